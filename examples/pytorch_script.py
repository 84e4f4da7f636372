"""A PyTorch training script in the style of PyTorch's CIFAR-10 tutorial, run by cylayers.

Change the one line ``import cylayers as torch`` into ``import torch`` and the same file trains
on PyTorch: everything below is PyTorch's API (Dataset/DataLoader, random_split, a ConvNet,
CrossEntropyLoss, SGD with momentum, clip_grad_norm_, ReduceLROnPlateau, a forward hook,
``torch.max(outputs.data, 1)``, save/load of the state_dict). The data are scikit-learn's bundled
8x8 digits (CIFAR-10 needs a download this script does not assume).

    python examples/pytorch_script.py
    python examples/pytorch_script.py --epochs 10 --save digits_net.pt
"""
import argparse

import numpy as np
from sklearn.datasets import load_digits

import cylayers as torch  # the only line to change: `import torch` runs this on PyTorch

nn = torch.nn
F = torch.nn.functional


class Digits(torch.utils.data.Dataset):
    """The 1797 bundled 8x8 digits as (1, 8, 8) float images in [0, 1] and int64 labels."""

    def __init__(self):
        digits = load_digits()
        self.images = (digits.images / 16.0).astype(np.float32)[:, None]
        self.labels = digits.target.astype(np.int64)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i]), int(self.labels[i])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def evaluate(net, loader, criterion):
    correct, total, loss = 0, 0, 0.0
    with torch.no_grad():
        for images, labels in loader:
            outputs = net(images)
            loss += criterion(outputs, labels).item() * labels.size(0)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return correct / total, loss / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8, help="passes over the training set")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per step")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and shuffling")
    parser.add_argument("--save", default=None, help="write the trained state_dict here")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_set, val_set, test_set = torch.utils.data.random_split(
        Digits(), [0.7, 0.15, 0.15], generator=torch.Generator().manual_seed(args.seed))
    trainloader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size,
                                              shuffle=True, num_workers=0)
    valloader = torch.utils.data.DataLoader(val_set, batch_size=256)
    testloader = torch.utils.data.DataLoader(test_set, batch_size=256)

    net = Net().to(device)
    activity = []  # fraction of conv1 outputs above zero, recorded by a forward hook
    hook = net.conv1.register_forward_hook(
        lambda module, inputs, output: activity.append((output > 0).float().mean().item()))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min", factor=0.5,
                                                           patience=1)
    for epoch in range(args.epochs):
        net.train()
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(trainloader, 0):
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), max_norm=5.0)
            optimizer.step()
            running_loss += loss.item()
        net.eval()
        val_acc, val_loss = evaluate(net, valloader, criterion)
        scheduler.step(val_loss)
        print(f"[epoch {epoch + 1}] train loss: {running_loss / (i + 1):.3f}  val loss: "
              f"{val_loss:.3f}  val accuracy: {100 * val_acc:.1f} %  lr: "
              f"{scheduler.get_last_lr()[0]:.4f}  conv1 active: {100 * np.mean(activity):.0f} %")
        activity.clear()
    hook.remove()
    print("Finished Training")

    test_acc, _ = evaluate(net, testloader, criterion)
    print(f"Accuracy of the network on the {len(test_set)} test images: {100 * test_acc:.1f} %")
    correct_pred, total_pred = np.zeros(10), np.zeros(10)
    with torch.no_grad():
        for images, labels in testloader:
            _, predictions = torch.max(net(images), 1)
            for label, prediction in zip(labels, predictions):
                total_pred[int(label)] += 1
                correct_pred[int(label)] += int(label == prediction)
    for digit in range(10):
        print(f"Accuracy for digit {digit}: {100 * correct_pred[digit] / total_pred[digit]:.1f} %")
    if args.save:
        torch.save(net.state_dict(), args.save)
        restored = Net()
        restored.load_state_dict(torch.load(args.save))
        print(f"saved the trained model to {args.save}")
    return test_acc


if __name__ == "__main__":
    main()
