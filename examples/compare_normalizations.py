"""The PyTorch layer tutorial's NormalizationExample, as an experiment: the same small CNN
trained with BatchNorm, LayerNorm, InstanceNorm or GroupNorm at batch sizes 2, 8 and 64 on digits
(or MNIST).

It prints the test accuracy of every combination and plots (PNG) accuracy against batch size
and the per-channel mean/std each normalization produces on the test set (eval mode). The tutorial's
advice: BatchNorm is weak at small batches (noisy batch statistics, and running statistics that
disagree with them at eval time), LayerNorm/InstanceNorm do not depend on the batch, GroupNorm is
the compromise between them. Every run takes the same number of optimizer steps. On the small
8x8 digits the differences are modest and move with --seed: read them from the table (and try
a few seeds) rather than expecting the textbook ordering. At batch 2 InstanceNorm and GroupNorm
stay near chance on this model; PyTorch's do the same.

    python examples/compare_normalizations.py --steps 400
"""
import os
import sys

import cylayers as torch
from cylayers import nn
from cylayers.data import DataLoader

from training import (ExampleParser, HelpFormatter, evaluate, load_data, positive_int,
                      progress)

NORMS = {
    "batch_norm": lambda c, hw: nn.BatchNorm2d(c),
    "layer_norm": lambda c, hw: nn.LayerNorm([c, hw, hw]),
    "instance_norm": lambda c, hw: nn.InstanceNorm2d(c, affine=True),
    "group_norm": lambda c, hw: nn.GroupNorm(4, c),
}


class SmallCNN(nn.Module):
    def __init__(self, norm, in_channels, hw, width=16, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.norm1 = NORMS[norm](width, hw)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.norm2 = NORMS[norm](2 * width, hw)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = self.relu(self.norm1(self.conv1(x)))
        x = self.relu(self.norm2(self.conv2(x)))
        return self.fc(self.pool(x).flatten(1))


def train_one(norm, batch_size, train, test, args):
    """The same number of optimizer steps at every batch size, so that the batch size, not the
    number of updates, is what differs between runs."""
    torch.manual_seed(args.seed)
    _, c, hw, _ = train.arrays[0].shape
    model = SmallCNN(norm, c, hw)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    steps = 0
    while steps < args.steps:
        for x, y in DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            steps += 1
            if steps == args.steps:
                break
    return model, evaluate(model, test)


def channel_stats(model, test):
    """Per-channel mean and std of the first normalization's output over the test set."""
    model.eval()
    x = torch.tensor(test.arrays[0])
    with torch.no_grad():
        out = model.norm1(model.conv1(x)).numpy()
    model.train()
    return out.mean(axis=(0, 2, 3)), out.std(axis=(0, 2, 3))


def plot(results, stats, batch_sizes, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot written")
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for norm in NORMS:
        a.plot(batch_sizes, [results[(norm, bs)] for bs in batch_sizes], marker="o", label=norm)
        mean, std = stats[norm]
        b.scatter(mean, std, label=norm, s=18)
    a.set_xscale("log", base=2)
    a.set_xticks(batch_sizes, [str(bs) for bs in batch_sizes])
    a.set_xlabel("batch size"), a.set_ylabel("test accuracy"), a.legend()
    a.set_title("accuracy vs batch size")
    b.set_xlabel("channel mean"), b.set_ylabel("channel std"), b.legend()
    b.set_title(f"first norm layer output per channel (eval, batch {batch_sizes[0]})")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = ExampleParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--dataset", choices=["digits", "mnist", "fashion-mnist"], default="digits",
                   help="digits: scikit-learn's bundled 8x8 digits (no download); "
                        "mnist/fashion-mnist: IDX files in --data")
    p.add_argument("--data", default="data", help="folder with the (Fashion)MNIST IDX files")
    p.add_argument("--download", action="store_true", help="fetch (Fashion)MNIST if missing")
    p.add_argument("--steps", type=positive_int, default=400, help="optimizer steps per run")
    p.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[2, 8, 64],
                   help="the batch sizes to compare")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and shuffling")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="threads for kernels and matrix products (default: OMP_NUM_THREADS, "
                        "else all cores)")
    p.add_argument("--plot", default="runs/compare_normalizations.png",
                   help="accuracy and statistics plots (PNG)")
    p.add_argument("--checkpoint", default="runs/compare_normalizations.cyl",
                   help="results so far, saved after every run")
    p.add_argument("--resume", action="store_true", help="skip the runs --checkpoint has")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    train, test = load_data(args, flatten=False)
    done = {}
    if args.resume and os.path.exists(args.checkpoint):
        done = torch.load(args.checkpoint)["runs"]
        print(f"resumed from {args.checkpoint}: {len(done)} runs already done")
    runs = [(norm, bs) for norm in NORMS for bs in args.batch_sizes]
    bar = progress(runs, args.no_progress)
    for norm, bs in bar:
        key = f"{norm}@{bs}"
        if key not in done:
            model, acc = train_one(norm, bs, train, test, args)
            mean, std = channel_stats(model, test)
            done[key] = {"accuracy": acc, "channel_mean": mean, "channel_std": std}
            os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)
            torch.save({"runs": done, "args": vars(args)}, args.checkpoint)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(run=key, acc=f"{done[key]['accuracy']:.3f}")
    results = {(n, bs): done[f"{n}@{bs}"]["accuracy"] for n, bs in runs}
    stats = {n: (done[f"{n}@{args.batch_sizes[0]}"]["channel_mean"],
                 done[f"{n}@{args.batch_sizes[0]}"]["channel_std"]) for n in NORMS}
    print(f"{'norm':15s}" + "".join(f"  batch {bs:<4d}" for bs in args.batch_sizes))
    for norm in NORMS:
        print(f"{norm:15s}" + "".join(f"  {results[(norm, bs)]:10.4f}"
                                      for bs in args.batch_sizes))
    plot(results, stats, args.batch_sizes, args.plot)
    print(f"plot written to {args.plot}")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
