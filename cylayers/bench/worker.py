"""One benchmark process per library (``python cylayers/bench/worker.py LIB THREADS``).

The parent (python -m cylayers.bench) sends one JSON request per line and reads one JSON answer
per line. Each library runs alone in its process: two OpenMP runtimes in one process fight over
the cores, and cylayers' malloc tuning is process-wide. For a library other than cylayers the
``cylayers`` package is stubbed so that importing the benchmark cases does not load cylayers.
"""
import json
import os
import sys
import time
import types


def _stub_cylayers():
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    stub = types.ModuleType("cylayers")
    stub.__path__ = [package_dir]
    sys.modules["cylayers"] = stub


def _set_threads(lib, threads):
    if lib == "cylayers":
        import cylayers
        cylayers.set_num_threads(threads)
    elif lib == "torch":
        import torch
        torch.set_num_threads(threads)


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def peak_bytes(fn, baseline):
    """The resident memory's high-water mark during one call, above ``baseline`` (the process
    right after importing its library): the model, its data, optimizer state and the graph."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux: reset VmHWM to the current resident size
    except OSError:
        return None
    fn()
    peak = _status("VmHWM")
    return None if peak is None or baseline is None else max(peak - baseline, 0)


def serve(lib, threads):
    if lib != "cylayers":
        _stub_cylayers()
    import numpy as np
    from cylayers.bench import cases as _cases  # noqa: F401  (registers the cases)
    from cylayers.bench.registry import CASES
    _set_threads(lib, threads)
    if lib in ("cylayers", "torch"):
        __import__(lib)
    baseline = _status("VmRSS")
    by_name = {c.name: c for c in CASES}
    built = {}
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "build":
                fns = by_name[req["case"]].build(lib, np.dtype(req["dtype"]))
                built[req["case"]] = fns
                answer = {"modes": sorted(k for k in (fns or {}) if k != "saved")}
                if fns and "saved" in fns:
                    answer["saved"] = fns["saved"]()
            elif op == "calibrate":
                fn = built[req["case"]][req["mode"]]
                fn()
                t0 = time.perf_counter()
                fn()
                once = time.perf_counter() - t0
                answer = {"inner": max(1, min(1000, int(req["target"] / max(once, 1e-7))))}
            elif op == "time":
                fn, inner = built[req["case"]][req["mode"]], req["inner"]
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                answer = {"seconds": (time.perf_counter() - t0) / inner}
            elif op == "peak":
                answer = {"bytes": peak_bytes(built[req["case"]][req["mode"]], baseline)}
            elif op == "level":  # the kernel level this cylayers process loaded
                answer = {"level": sys.modules["cylayers._kernels"].LEVEL}
            elif op == "loaded":  # which libraries this process has loaded
                answer = {m: m in sys.modules for m in ("cylayers._kernels", "torch")}
            elif op == "quit":
                return
            else:
                answer = {"error": f"unknown op {op}"}
        except Exception as e:  # reported to the parent, which shows it in the table
            answer = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
