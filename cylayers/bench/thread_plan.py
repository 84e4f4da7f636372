"""python -m cylayers.bench.thread_plan [--filter TEXT] [--cores 2 16 64] [--out FILE]

The thread counts cylayers' cost model gives each kernel and matrix product of every bench row
on machines with other core counts, without such a machine: each row runs once here, every
thread-count decision (cylayers._threads.threads_for: its work and the work one thread must
have) is recorded, and cylayers._threads.threads_for_cores answers it again for each core count.
The rule: one thread per half of a kernel's minimum parallel work (2^14 elements; 2^15
multiply-adds for a product), none below that minimum, at most the cores; another process's
load can only lower it. Prints a markdown table: per row and core count, how many of the
row's decisions get 1 thread, 2-4, 5-8, 9-16 and more, and the largest count given."""
import argparse
import sys

import numpy as np

from cylayers import _threads
from cylayers.bench import cases as _cases  # noqa: F401  (registers the cases)
from cylayers.bench.registry import CASES

BANDS = ((1, 1), (2, 4), (5, 8), (9, 16), (17, None))
TIMED_MODES = ("fwd", "fwd+bwd", "epoch", "step")  # not the bench's memory probes


def record_decisions(fn):
    """Run ``fn`` once; the (work, minimum work) of every thread-count decision it made."""
    decisions = []
    real = _threads.threads_for

    def recording(work_items, min_items=_threads.PARALLEL_MIN_ELEMENTS):
        decisions.append((int(work_items), int(min_items)))
        return real(work_items, min_items)
    patched = []
    for module in list(sys.modules.values()):  # modules that imported the function by name
        if getattr(module, "__name__", "").startswith("cylayers") and \
                getattr(module, "threads_for", None) is real:
            patched.append(module)
            module.threads_for = recording
    try:
        fn()
    finally:
        for module in patched:
            module.threads_for = real
    return decisions


def plan(decisions, cores):
    """How many decisions fall in each band of BANDS on ``cores`` cores, and the largest."""
    picks = [_threads.threads_for_cores(w, m, cores) for w, m in decisions]
    counts = [sum(lo <= p and (hi is None or p <= hi) for p in picks) for lo, hi in BANDS]
    return counts, max(picks, default=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filter", default="", help="only cases whose name or group has this")
    parser.add_argument("--cores", type=int, nargs="+", default=[2, 16, 64])
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    bands = " / ".join("1" if hi == 1 else f"{lo}+" if hi is None else f"{lo}-{hi}"
                       for lo, hi in BANDS)
    lines = [f"Thread-count decisions per bench row (cylayers' cost model, {bands} threads; "
             "the largest count in brackets)", "",
             "| case | mode | decisions | " + " | ".join(f"{c} cores" for c in args.cores)
             + " |", "|---|---|---:|" + "---:|" * len(args.cores)]
    for case in CASES:
        if args.filter and args.filter not in case.name and args.filter not in case.group:
            continue
        fns = case.build("cylayers", np.dtype(np.float32))
        for mode, fn in (fns or {}).items():
            if mode not in TIMED_MODES:
                continue
            fn()  # a first call builds what later calls reuse (packed weights, buffers)
            decisions = record_decisions(fn)
            cells = []
            for cores in args.cores:
                counts, largest = plan(decisions, cores)
                cells.append(" / ".join(map(str, counts)) + f" [{largest}]")
            lines.append(f"| {case.name} | {mode} | {len(decisions)} | " + " | ".join(cells)
                         + " |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
