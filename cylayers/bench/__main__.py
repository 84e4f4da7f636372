"""python -m cylayers.bench [--filter TEXT] [--threads N] [--out DIR] [--quick]

Times every registered case for cylayers, PyTorch (when installed), a plain-numpy reference
and, for the activation and dropout cases, JAX's jit (when installed; XLA picks its own
threads). Each library runs in its own process with the same thread count (two OpenMP runtimes
in one process fight over the cores; cylayers' malloc tuning is process-wide); rounds are
interleaved across the processes and the minimum is kept. Prints a table of times and the
cylayers/PyTorch ratio (below 1: cylayers is faster), the peak memory of the whole-model rows,
cylayers' CNN epoch on 1 thread against N, and a small training step while another process
keeps one core busy (1 thread against N, and PyTorch); writes it as markdown (and a PNG bar
chart when matplotlib is installed)."""
import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

import cylayers
from cylayers.bench import cases as _cases  # noqa: F401  (registers the cases)
from cylayers.bench.cases import TINY_STEP_CASE
from cylayers.bench.harness import stream_copy_bandwidth
from cylayers.bench.registry import CASES


class Worker:
    """A library's own benchmark process (cylayers/bench/worker.py), driven line by line."""

    def __init__(self, lib, threads):
        self.lib = lib
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        self.proc = subprocess.Popen([sys.executable, WORKER, lib, str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)

    def ask(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.lib} benchmark process exited")
        return json.loads(line)

    def close(self):
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait(timeout=30)


WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


def available_libraries():
    libs = ["cylayers"]
    for name in ("torch", "numpy", "jax"):
        if name == "numpy" or importlib.util.find_spec(name) is not None:
            libs.append(name)
    return libs


def _measure(workers, case, mode, repeats, target):
    """Interleaved rounds over the libraries' processes; the minimum for each. Each round starts
    with the next library, so none always runs right after the same other one (PyTorch's
    OpenMP threads spin a few ms after its work, beside whichever process runs next)."""
    inner = {}
    for lib, w in workers.items():
        answer = w.ask(op="calibrate", case=case, mode=mode, target=target)
        if "inner" in answer:
            inner[lib] = answer["inner"]
    best = {lib: float("inf") for lib in inner}
    order = list(inner)
    for round_ in range(repeats):
        shift = round_ % max(len(order), 1)
        for lib in order[shift:] + order[:shift]:
            answer = workers[lib].ask(op="time", case=case, mode=mode, inner=inner[lib])
            if "seconds" in answer:
                best[lib] = min(best[lib], answer["seconds"])
    return {lib: t for lib, t in best.items() if t < float("inf")}


def run(filter_text="", threads=None, repeats=7, quick=False,
        modes=("fwd", "fwd+bwd", "step", "epoch"),
        dtype=np.float32, libraries=None):
    """Time every selected case in every library, each library in its own process with the
    same thread count; a last row compares cylayers' CNN epoch on 1 thread and on ``threads``.
    """
    threads = threads or cylayers.get_num_threads()
    libraries = libraries or available_libraries()
    workers = {lib: Worker(lib, threads) for lib in libraries}
    run.level = workers["cylayers"].ask(op="level")["level"] if "cylayers" in workers else None
    target = 0.005 if quick else 0.02
    repeats = 2 if quick else repeats
    rows = []
    try:
        for case in CASES:
            if filter_text and filter_text.lower() not in (case.name + " " +
                                                           case.group).lower():
                continue
            built = {lib: w.ask(op="build", case=case.name, dtype=np.dtype(dtype).name)
                     for lib, w in workers.items()}
            saved = {lib: b["saved"] for lib, b in built.items() if "saved" in b}
            for mode in modes:
                with_mode = {lib: workers[lib] for lib, b in built.items()
                             if mode in b.get("modes", ())}
                if "cylayers" not in with_mode:
                    continue
                t = _measure(with_mode, case.name, mode, repeats, target)
                peak = (_epoch_peaks(list(with_mode), case.name, threads, dtype, mode)
                        if mode in ("step", "epoch") else {})
                rows.append(dict(case=case.name, group=case.group, mode=mode, ops=case.ops,
                                 bytes=case.bytes_moved,
                                 saved=saved if mode == "fwd+bwd" else {}, peak=peak,
                                 **{f"t_{k}": v for k, v in t.items()}))
        if threads > 1:
            threads_rows = [c.name for c in CASES if c.group == "sweep" and (
                not filter_text or filter_text.lower() in (c.name + " sweep").lower())]
            if not filter_text or filter_text.lower() in (THREADS_CASE + " threads").lower():
                threads_rows.insert(0, THREADS_CASE)  # with --filter epoch too
            for name in threads_rows:
                rows.append(_threads_row(name, threads, repeats, target, dtype))
            if not filter_text or filter_text.lower() in (TINY_STEP_CASE +
                                                          " neighbour").lower():
                rows.append(_neighbour_row(TINY_STEP_CASE, threads, repeats, target, dtype,
                                           libraries))
    finally:
        for w in workers.values():
            w.close()
    return rows, threads


def _epoch_peaks(libraries, case, threads, dtype, mode="epoch"):
    """Each library's peak memory over one epoch (or step), in a fresh process of its own: a worker that
    already ran other cases keeps their freed memory in its heap (cylayers' malloc tuning, and
    PyTorch's allocator), which the epoch would reuse or count."""
    peak = {}
    for lib in libraries:
        fresh = Worker(lib, threads)
        try:
            fresh.ask(op="build", case=case, dtype=np.dtype(dtype).name)
            answer = fresh.ask(op="peak", case=case, mode=mode)
        finally:
            fresh.close()
        if answer.get("bytes") is not None:
            peak[lib] = answer["bytes"]
    return peak


THREADS_CASE = "epoch: digits CNN (Conv16-BN-ReLU-Conv32-BN-ReLU-Dropout2d-Linear, batch 64)"


def _measure_in_fresh_workers(specs, case, mode, repeats, target, dtype):
    """_measure over processes started for this row alone (``specs``: {key: (library,
    threads)}), each built for ``case``, all closed after."""
    workers = {}
    try:
        for key, (lib, threads) in specs.items():
            workers[key] = Worker(lib, threads)
            workers[key].ask(op="build", case=case, dtype=np.dtype(dtype).name)
        return _measure(workers, case, mode, repeats, target)
    finally:
        for w in workers.values():
            w.close()


def _threads_row(case, threads, repeats, target, dtype):
    """cylayers on 1 thread against ``threads`` for one case (the CNN epoch, or fwd+bwd of a
    size-sweep case), in two fresh processes: the same history on both sides (the worker that
    had run every other case measured small ops slower than a fresh process did: the rows at
    65k elements read 0.7-0.9x, against 1.2-1.4x)."""
    mode = "epoch" if case == THREADS_CASE else "fwd+bwd"
    # Three times the rounds: a burst of other work on this shared machine slows the run on
    # N threads (its regions wait for the slowest core) but not the one on a single core,
    # so the minimum needs more chances to land outside such bursts.
    t = _measure_in_fresh_workers({"one": ("cylayers", 1), "many": ("cylayers", threads)},
                                  case, mode, 3 * repeats, target, dtype)
    label = "CNN epoch" if case == THREADS_CASE else case.split(": ", 1)[-1]
    return dict(case=f"threads: {label}, 1 thread vs {threads}", group="threads",
                mode=mode, ops=1, bytes=0, saved={}, peak={},
                t_cylayers=t.get("many"), t_torch=None, t_one_thread=t.get("one"))


def _neighbour_row(case, threads, repeats, target, dtype, libraries):
    """A small training step while another process keeps one core busy: cylayers on
    ``threads`` and on 1 thread, PyTorch on ``threads``. A parallel region waits for its thread on
    the busy core, so N threads can cost several times one thread there."""
    specs = {key: spec for key, spec in (("many", ("cylayers", threads)), ("one", ("cylayers", 1)),
                                         ("torch", ("torch", threads))) if spec[0] in libraries}
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)  # the spinner running before the workers start
        # Rounds of ~1 s: each process trains as a loop would, long enough for cylayers to
        # notice the neighbour (it looks every 0.5 s), not in slices a third of its time.
        t = _measure_in_fresh_workers(specs, case, "step", repeats, max(target, 1.0), dtype)
    finally:
        spinner.kill()
        spinner.wait()
    return dict(case=f"busy neighbour: {case.split(': ', 1)[-1]}, another process spinning, "
                     f"1 thread vs {threads}", group="neighbour", mode="step", ops=1, bytes=0,
                saved={}, peak={}, t_cylayers=t.get("many"), t_torch=t.get("torch"),
                t_one_thread=t.get("one"))


def cpu_name():
    """The processor's model name (Linux's /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def milliseconds(ms):
    """A time in ms with three or four significant digits (not four decimals at every size)."""
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}" if ms >= 0.01 else f"{ms:.2g}"


def format_table(rows, threads, bandwidth=None, level=None):
    lines = [f"threads={threads} (every library, each in its own process), cylayers "
             f"{cylayers.__version__}, kernel level {level or cylayers._kernels.LEVEL}, "
             f"OpenMP={cylayers.have_openmp()}, CPU {cpu_name()} ({os.cpu_count()} cores)"
             + (f", STREAM copy {bandwidth / 1e9:.1f} GB/s" if bandwidth else ""),
             "",
             "Times are milliseconds per call (minimum of interleaved rounds); "
             "cylayers/torch below 1.00x means cylayers is faster. saved: bytes per input "
             "element the autograd graph keeps for backward. peak MB: the resident memory's "
             "high-water mark during an epoch, above the process right after importing its "
             "library (model, data, optimizer state, graph).",
             "",
             "| case | mode | cylayers ms | torch ms | numpy ms | jax ms | cylayers/torch "
             "| saved B/elem (cylayers / torch) | peak MB (cylayers / torch) | note |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        scale = 1e3 / r["ops"]
        c, t, n, j = r.get("t_cylayers"), r.get("t_torch"), r.get("t_numpy"), r.get("t_jax")
        fmt = lambda v: milliseconds(v * scale) if v is not None else "-"  # noqa: E731
        ratio = f"{c / t:.2f}x" if t and c else "-"
        note = "per op" if r["ops"] > 1 else ""
        if r["bytes"] and c and r["mode"] == "fwd+bwd" and bandwidth:
            note = f"{r['bytes'] / c / 1e9:.1f} GB/s ({100 * r['bytes'] / c / bandwidth:.0f}%)"
        if r.get("t_one_thread") and c and r["group"] == "neighbour":
            note = (f"1 thread {milliseconds(r['t_one_thread'] * 1e3)} ms: {threads} threads "
                    f"take {c / r['t_one_thread']:.2f}x its time")
        elif r.get("t_one_thread") and c:
            note = (f"1 thread {milliseconds(r['t_one_thread'] * 1e3)} ms: {threads} threads "
                    f"are {r['t_one_thread'] / c:.2f}x faster")
        sv = r.get("saved") or {}
        saved = (f"{sv['cylayers']:.2f} / {sv['torch']:.2f}" if "torch" in sv
                 else f"{sv['cylayers']:.2f}" if "cylayers" in sv else "")
        pk = r.get("peak") or {}
        peak = " / ".join(f"{pk[lib] / 2 ** 20:.1f}" if lib in pk else "-"
                          for lib in ("cylayers", "torch")) if pk else ""
        lines.append(f"| {r['case']} | {r['mode']} | {fmt(c)} | {fmt(t)} | {fmt(n)} | {fmt(j)} "
                     f"| {ratio} | {saved} | {peak} | {note} |")
    return "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    def label(r):
        name = r["case"] if len(r["case"]) <= 60 else r["case"][:57] + "..."
        return f"{name} [{r['mode']}]"
    labels = [label(r) for r in rows if r.get("t_torch")]
    ratios = [r["t_cylayers"] / r["t_torch"] for r in rows if r.get("t_torch")]
    if not ratios:
        return False
    # room for the labels on the left and the bars beside them; bbox_inches="tight" below
    # keeps the axis label whole
    fig, ax = plt.subplots(figsize=(13, 0.32 * len(ratios) + 1.4))
    ax.barh(labels, ratios, color=["tab:green" if x <= 1 else "tab:red" for x in ratios])
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xlabel("time ratio cylayers / PyTorch (lower is better)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
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
    p.add_argument("--capability", choices=("baseline", "avx2", "avx512"), default=None,
                   help="run cylayers' kernels at this level (CYLAYERS_CPU_CAPABILITY); "
                        "default: the highest the CPU supports")
    args = p.parse_args(argv)
    if args.capability:  # the workers, started below, inherit it
        os.environ["CYLAYERS_CPU_CAPABILITY"] = args.capability
    if args.list:
        for c in CASES:
            print(f"{c.group:12s} {c.name}")
        return 0
    bandwidth = None if args.quick else stream_copy_bandwidth()
    rows, threads = run(args.filter, args.threads, args.repeats, args.quick)
    table = format_table(rows, threads, bandwidth, getattr(run, "level", None))
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
