"""Train a small MLP on scikit-learn's bundled 8x8 digits with cylayers (no download needed).

    python examples/train_mlp_digits.py --epochs 30

Prints the loss per epoch and the final test accuracy; saves a checkpoint with cylayers.save.
"""
import argparse
import os
import time

import numpy as np

import cylayers
from cylayers import nn
import cylayers.nn.functional as F


class MLP(nn.Module):
    def __init__(self, in_features=64, hidden=128, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def load_digits_split(seed):
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = len(x) // 5
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


def accuracy(model, x, y):
    model.eval()
    with cylayers.no_grad():
        pred = model(cylayers.tensor(x)).argmax(1).numpy()
    model.train()
    return float((pred == y).mean())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--checkpoint", default="runs/mlp_digits.cyl")
    args = p.parse_args(argv)
    if args.threads:
        cylayers.set_num_threads(args.threads)
    cylayers.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_digits_split(args.seed)
    model = MLP()
    opt = cylayers.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(cylayers.tensor(x_train[idx])), cylayers.tensor(y_train[idx]))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch:3d}  loss {total / len(order):.4f}  "
              f"test acc {accuracy(model, x_test, y_test):.4f}")
    os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)
    cylayers.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                   "epoch": args.epochs}, args.checkpoint)
    acc = accuracy(model, x_test, y_test)
    print(f"final test accuracy {acc:.4f} ({time.perf_counter() - start:.1f}s, "
          f"checkpoint {args.checkpoint})")
    return acc


if __name__ == "__main__":
    main()
