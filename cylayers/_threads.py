"""The one place that decides how many threads a kernel uses."""
import os

from cylayers._kernels import _openmp

# Below this many elements a parallel region costs more to start than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 15


def _default_num_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_num_threads = _default_num_threads()


def set_num_threads(n):
    """Set the number of threads the kernels may use (like ``torch.set_num_threads``)."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads expects a positive integer, but got {n!r}")
    _num_threads = n


def get_num_threads():
    """Threads the kernels use for large inputs (1 in a build without OpenMP)."""
    return _num_threads if _openmp.have_openmp() else 1


def have_openmp():
    """True when the compiled kernels were built with OpenMP."""
    return _openmp.have_openmp()


def threads_for(work_items, min_items=PARALLEL_MIN_ELEMENTS):
    """Thread count for a kernel over ``work_items`` elements: serial when small."""
    if work_items < min_items:
        return 1
    return max(1, min(get_num_threads(), work_items // (min_items // 2) or 1))
