"""The training loop shared by the example scripts: data, progress bar, per-epoch checkpoint with
--resume, final test accuracy, and a loss/accuracy curve PNG."""
import argparse
import os
import time

import numpy as np

import cylayers
from cylayers import nn
from cylayers.data import DataLoader, DistributedSampler


class HelpFormatter(argparse.RawDescriptionHelpFormatter,
                    argparse.ArgumentDefaultsHelpFormatter):
    """--help keeps the description's lines as written and shows every option's default, once:
    not where the help already says it, nor a default of None or False (a flag)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def positive_int(text):
    """argparse type: an integer of at least 1 (0 epochs or 0 threads is a mistake)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


# The world size MPI launchers put in each rank's environment: MPICH's Hydra, Open MPI, MVAPICH.
_WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_ranks(environ=os.environ):
    """How many ranks mpiexec started (1 when the script was not started by mpiexec)."""
    for name in _WORLD_SIZE_VARIABLES:
        if environ.get(name, "").isdigit():
            return int(environ[name])
    return 1


class ExampleParser(argparse.ArgumentParser):
    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        ranks = launched_ranks()
        if ranks > 1 and not getattr(parsed, "distributed", False):
            # N copies of one training, all writing the same checkpoint: never what is meant.
            hint = ("add --distributed, or run it without mpiexec" if hasattr(parsed, "distributed")
                    else "this example runs in one process: run it without mpiexec")
            first_rank = os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
            raise SystemExit(f"{self.prog}: started by mpiexec with {ranks} ranks but without "
                             f"--distributed; {hint}" if first_rank == "0" else 1)
        return parsed


def make_parser(description, epochs, batch_size, lr, name):
    p = ExampleParser(description=description, formatter_class=HelpFormatter)
    p.add_argument("--dataset", choices=["digits", "mnist", "fashion-mnist"], default="digits",
                   help="digits: scikit-learn's bundled 8x8 digits (no download, default); "
                        "mnist/fashion-mnist: IDX files in --data")
    p.add_argument("--data", default="data", help="folder with the (Fashion)MNIST IDX files")
    p.add_argument("--download", action="store_true", help="fetch (Fashion)MNIST if missing")
    p.add_argument("--epochs", type=positive_int, default=epochs, help="passes over the training set")
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help="samples per step")
    p.add_argument("--lr", type=float, default=lr, help="learning rate")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for the weights, the data split and the shuffling")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="threads for kernels and matrix products (default: OMP_NUM_THREADS, "
                        "else all cores, shared out between the MPI ranks on this node)")
    p.add_argument("--checkpoint", default=f"runs/{name}.cyl", help="saved after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--plot", default=f"runs/{name}.png", help="loss/accuracy curves (PNG)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI ranks (launch with mpiexec -n N): each rank "
                        "trains on its DistributedSampler shard, gradients are averaged, rank 0 "
                        "logs and checkpoints")
    return p


def distribute(model, args, sync_batchnorm=True):
    """With --distributed: join the MPI job and wrap ``model`` in DistributedDataParallel (its
    BatchNorm layers made SyncBatchNorm: statistics over every rank's samples). Returns the
    model to train; ``.module`` of it is the bare model."""
    if not args.distributed:
        return model
    import cylayers.distributed as dist
    dist.init_process_group("mpi")
    if sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model)


def load_data(args, flatten):
    if args.dataset == "digits":
        from cylayers.datasets import load_digits
        return load_digits(seed=args.seed, flatten=flatten)
    from cylayers.datasets import FashionMNIST, MNIST
    cls = MNIST if args.dataset == "mnist" else FashionMNIST
    try:
        train = cls(args.data, train=True, download=args.download)
        test = cls(args.data, train=False, download=args.download)
    except FileNotFoundError as e:  # the script's words, not the library's (download=True)
        raise SystemExit(f"{str(e).split(';')[0]}: pass --download to fetch them, or --data "
                         "DIR with the IDX files") from None
    except (RuntimeError, OSError) as e:  # --download without a network: one line
        raise SystemExit(f"{args.dataset}: {e}") from None
    if flatten:
        for ds in (train, test):
            ds.arrays[0] = ds.arrays[0].reshape(len(ds), -1)
    return train, test


def evaluate(model, dataset, batch_size=512):
    model.eval()
    correct = 0
    with cylayers.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size):
            correct += int((model(x).argmax(1).numpy() == y.numpy()).sum())
    model.train()
    return correct / len(dataset)


def progress(iterable, disable=False, total=None, desc=None):
    """A tqdm progress bar (the examples extra brings tqdm); the plain iterable without it."""
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False)


def plot_panels(panels, path, title=""):
    """One panel per (y label, {curve label: values per epoch}), side by side, as a PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot written")
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (ylabel, curves) in zip(axes[0], panels):
        for label, values in curves.items():
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=label)
        ax.set_xlabel("epoch"), ax.set_ylabel(ylabel)
        if len(curves) > 1:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_history(history, path, title=""):
    plot_panels([("training loss", {"train": history["loss"]}),
                 ("accuracy", {"train": history["train_acc"], "test": history["test_acc"]})],
                path, title)


def fit(model, train, test, args, optimizer=None, scheduler=None, log=print):
    """Train ``model``; returns the final test accuracy. Resumable from args.checkpoint.

    In a distributed run (``model`` wrapped in DistributedDataParallel) every rank trains on
    its shard of each epoch; only rank 0 logs, plots and writes the checkpoint, and every rank
    resumes from it."""
    import cylayers.distributed as dist
    if args.threads:
        cylayers.set_num_threads(args.threads)
    rank, world = dist.get_rank(), dist.get_world_size()
    core = getattr(model, "module", model)  # the bare model: checkpoints without "module."
    if rank != 0:
        log = lambda *a, **k: None  # noqa: E731
    optimizer = optimizer or cylayers.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"loss": [], "train_acc": [], "test_acc": []}
    start_epoch = 0
    if args.resume and os.path.exists(args.checkpoint):
        state = cylayers.load(args.checkpoint)
        core.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        history = state["history"]
        start_epoch = state["epoch"]
        cylayers.random.set_rng_state(state["rng"])
        log(f"resumed from {args.checkpoint} at epoch {start_epoch}")
    sampler = DistributedSampler(train, seed=args.seed) if world > 1 else None
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=sampler is None,
                        sampler=sampler)
    try:
        for epoch in range(start_epoch, args.epochs):
            if sampler is not None:
                sampler.set_epoch(epoch)
            t0 = time.perf_counter()
            total, correct, seen = 0.0, 0, 0
            bar = progress(loader, args.no_progress or rank != 0, len(loader),
                           f"epoch {epoch + 1}/{args.epochs}")
            for x, y in bar:
                optimizer.zero_grad()
                logits = model(x)
                loss = loss_fn(logits, y)
                loss.backward()
                optimizer.step()
                n = y.shape[0]
                total += loss.item() * n
                correct += int((logits.detach().numpy().argmax(1) == y.numpy()).sum())
                seen += n
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{total / seen:.4f}", acc=f"{correct / seen:.3f}",
                                    refresh=False)
            if scheduler is not None:
                scheduler.step()
            if world > 1:  # the epoch's loss and accuracy over every rank's samples
                sums = cylayers.tensor([total, float(correct), float(seen)],
                                       dtype=cylayers.float64)
                dist.all_reduce(sums)
                total, correct, seen = sums[0].item(), int(sums[1].item()), int(sums[2].item())
            test_acc = evaluate(model, test)
            history["loss"].append(total / seen)
            history["train_acc"].append(correct / seen)
            history["test_acc"].append(test_acc)
            log(f"epoch {epoch + 1:3d}  loss {total / seen:.4f}  train acc {correct / seen:.4f}  "
                f"test acc {test_acc:.4f}  ({time.perf_counter() - t0:.1f}s)")
            if rank == 0:
                os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)
                state = {"model": core.state_dict(), "optimizer": optimizer.state_dict(),
                         "epoch": epoch + 1, "history": history,
                         "rng": cylayers.random.get_rng_state()}
                if scheduler is not None:
                    state["scheduler"] = scheduler.state_dict()
                cylayers.save(state, args.checkpoint)
            if world > 1:
                dist.barrier()  # the checkpoint is complete before any rank reads it
    except KeyboardInterrupt:  # Ctrl-C: what is saved, and how to go on
        done = len(history["loss"])
        if done:
            log(f"\ninterrupted during epoch {done + 1}; {args.checkpoint} holds epoch {done}: "
                "run the same command with --resume to continue from there")
        else:
            log("\ninterrupted during the first epoch: nothing was saved")
        raise SystemExit(130) from None  # the shell's status for Ctrl-C
    final = evaluate(model, test)
    if rank == 0:
        plot_history(history, args.plot, f"{type(core).__name__} on {args.dataset}: test "
                                         f"accuracy {final:.3f}")
        log(f"checkpoint: {args.checkpoint}  curves: {args.plot}")
    log(f"final test accuracy {final:.4f}")
    return final, history


if __name__ == "__main__":
    print(__doc__ + "\nIt is a module, not a script: run one of the examples, e.g.\n"
          "    python examples/self_normalizing_net.py --help")
