"""python -m cylayers.bench [--filter TEXT] [--threads N] [--out DIR] [--quick]

Times every registered case for cylayers, PyTorch (when installed; same process, same thread
count), a plain-numpy reference and, for the activation and dropout cases, JAX's jit (when
installed; XLA picks its own threads), interleaving repeats and keeping minimums. Prints a table of
times and ratios, writes it as markdown (and a PNG bar chart when matplotlib is installed)."""
import argparse
import os
import sys

import numpy as np

import cylayers
from cylayers.bench import cases as _cases  # noqa: F401  (registers the cases)
from cylayers.bench.harness import measure, stream_copy_bandwidth
from cylayers.bench.registry import CASES


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def run(filter_text="", threads=None, repeats=7, quick=False, modes=("fwd", "fwd+bwd", "epoch"),
        dtype=np.float32):
    torch = _torch()
    threads = threads or cylayers.get_num_threads()
    cylayers.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    rows = []
    for case in CASES:
        if filter_text and filter_text.lower() not in (case.name + " " + case.group).lower():
            continue
        built = {}
        for lib in ("cylayers", "torch", "numpy", "jax"):
            if lib == "torch" and torch is None:
                continue
            fns = case.build(lib, dtype)
            if fns is not None:
                built[lib] = fns
        saved = {lib: f["saved"]() for lib, f in built.items() if "saved" in f}
        for mode in modes:
            fns = {lib: f[mode] for lib, f in built.items() if mode in f}
            if "cylayers" not in fns:
                continue
            t = measure(fns, repeats=2 if quick else repeats, target=0.005 if quick else 0.02)
            rows.append(dict(case=case.name, group=case.group, mode=mode, ops=case.ops,
                             bytes=case.bytes_moved, saved=saved if mode == "fwd+bwd" else {},
                             **{f"t_{k}": v for k, v in t.items()}))
    return rows, threads


def format_table(rows, threads, bandwidth=None):
    lines = [f"threads={threads}, cylayers {cylayers.__version__}, OpenMP="
             f"{cylayers.have_openmp()}" + (f", STREAM copy {bandwidth / 1e9:.1f} GB/s"
                                            if bandwidth else ""),
             "",
             "| case | mode | cylayers ms | torch ms | numpy ms | jax ms | cylayers/torch "
             "| saved B/elem (cylayers / torch) | note |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        scale = 1e3 / r["ops"]
        c, t, n, j = r.get("t_cylayers"), r.get("t_torch"), r.get("t_numpy"), r.get("t_jax")
        fmt = lambda v: f"{v * scale:.4f}" if v is not None else "-"
        ratio = f"{c / t:.2f}x" if t else "-"
        note = "per op" if r["ops"] > 1 else ""
        if r["bytes"] and c and r["mode"] == "fwd+bwd" and bandwidth:
            note = f"{r['bytes'] / c / 1e9:.1f} GB/s ({100 * r['bytes'] / c / bandwidth:.0f}%)"
        sv = r.get("saved") or {}
        saved = (f"{sv['cylayers']:.2f} / {sv['torch']:.2f}" if "torch" in sv
                 else f"{sv['cylayers']:.2f}" if "cylayers" in sv else "")
        lines.append(f"| {r['case']} | {r['mode']} | {fmt(c)} | {fmt(t)} | {fmt(n)} | {fmt(j)} "
                     f"| {ratio} "
                     f"| {saved} | {note} |")
    return "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = [f"{r['case']} [{r['mode']}]" for r in rows if r.get("t_torch")]
    ratios = [r["t_cylayers"] / r["t_torch"] for r in rows if r.get("t_torch")]
    if not ratios:
        return False
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(ratios) + 1.2))
    ax.barh(labels, ratios, color=["tab:green" if x <= 1 else "tab:red" for x in ratios])
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xlabel("time ratio cylayers / PyTorch (lower is better)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m cylayers.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filter", default="", help="only cases whose name or group contains this")
    p.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="few short repeats (smoke test)")
    p.add_argument("--out", default="bench-results", help="folder for results.md and .png")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    args = p.parse_args(argv)
    if args.list:
        for c in CASES:
            print(f"{c.group:12s} {c.name}")
        return 0
    bandwidth = None if args.quick else stream_copy_bandwidth()
    rows, threads = run(args.filter, args.threads, args.repeats, args.quick)
    table = format_table(rows, threads, bandwidth)
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table + "\n")
    if plot(rows, os.path.join(args.out, "results.png")):
        print(f"\nwrote {args.out}/results.md and {args.out}/results.png")
    else:
        print(f"\nwrote {args.out}/results.md (install matplotlib for the chart)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
