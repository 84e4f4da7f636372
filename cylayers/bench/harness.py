"""Timing: interleaved repeats across libraries, minimum of each, same thread count."""
import gc
import time

import numpy as np


def _time_once(fn, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def calibrate_inner(fn, target=0.02):
    fn()  # warm up
    t = _time_once(fn, 1)
    return max(1, min(1000, int(target / max(t, 1e-7))))


def measure(fns, repeats=7, target=0.02):
    """fns: {label: callable}. Round-robin repeats so that machine noise hits every library
    alike; returns {label: minimum seconds per call}."""
    inner = {k: calibrate_inner(f, target) for k, f in fns.items()}
    best = {k: float("inf") for k in fns}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for k, f in fns.items():
                best[k] = min(best[k], _time_once(f, inner[k]))
    finally:
        if gc_was:
            gc.enable()
    return best


def stream_copy_bandwidth(n_bytes=256 << 20, repeats=5):
    """A STREAM-like copy (bytes read + written per second) with numpy, as the machine's
    practical memory bandwidth."""
    a = np.ones(n_bytes // 8)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best
