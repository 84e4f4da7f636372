"""The one place that decides how many threads a kernel uses."""
import os
import warnings

from cylayers._cpu_load import LoadWatch
from cylayers._kernels import _openmp

# Below this many elements a parallel region costs more to start than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 15


# Set once a kernel has been given more than one thread, i.e. OpenMP's thread pool exists.
_pool_started = False
# In a child forked after that: the pool's threads did not survive the fork, and libgomp waits
# for them forever at the next parallel region, so the child's kernels run serially.
_serial_after_fork = False


# Cores other processes keep busy are not given to kernels (see _cpu_load).
_load = LoadWatch()


def _after_fork_in_child():
    global _serial_after_fork
    if _pool_started:
        _serial_after_fork = True
    _load.restart()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def set_num_threads(n):
    """Set the number of threads the kernels and the matrix products use (like
    ``torch.set_num_threads``). It is OpenMP's team size, so threadpoolctl sees and limits it
    too; OMP_NUM_THREADS sets the default."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads expects a positive integer, but got {n!r}")
    if n > 1 and _serial_after_fork:
        warnings.warn("cylayers: this process was forked after its parent ran parallel kernels; "
                      "OpenMP cannot be used here, so kernels stay serial (start workers with the "
                      "'spawn' method to run them in parallel)", RuntimeWarning, stacklevel=2)
    _openmp.omp_set_num_threads(n)


def get_num_threads():
    """Threads the kernels use for large inputs (1 in a build without OpenMP, and in a child
    forked after its parent ran parallel kernels)."""
    if _serial_after_fork or not _openmp.have_openmp():
        return 1
    return _openmp.omp_max_threads()


def have_openmp():
    """True when the compiled kernels were built with OpenMP."""
    return _openmp.have_openmp()


def threads_for(work_items, min_items=PARALLEL_MIN_ELEMENTS):
    """Thread count for a kernel over ``work_items`` elements: serial when small, and no more
    threads than the cores other processes leave free."""
    global _pool_started
    n = threads_for_cores(work_items, min_items, get_num_threads())
    cap = _load.thread_cap() if n > 1 else None
    if cap is not None and n > cap:
        n = cap
    if n > 1:
        _pool_started = True
    return n


def threads_for_cores(work_items, min_items, cores):
    """The cost model alone: one thread per ``min_items // 2`` items of work (elements, or
    multiply-adds for a matrix product), none below ``min_items``, at most ``cores``
    (python -m cylayers.bench.thread_plan tabulates it for each bench row)."""
    if work_items < min_items:
        return 1
    return max(1, min(cores, work_items // (min_items // 2) or 1))


# How MPI launchers tell a process how many ranks share its node: MPICH's Hydra, Open MPI,
# MVAPICH.
_LOCAL_RANKS_VARIABLES = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE",
                          "MV2_COMM_WORLD_LOCAL_SIZE")


def ranks_on_this_node(environ=None):
    """Ranks of an MPI job that share this node (1 outside mpiexec), from the launcher's
    environment: known before MPI is initialized, and without importing mpi4py."""
    environ = os.environ if environ is None else environ
    for name in _LOCAL_RANKS_VARIABLES:
        try:
            return max(1, int(environ[name]))
        except (KeyError, ValueError):
            continue
    return 1


def default_threads(environ=None, cores=None):
    """The thread count when OMP_NUM_THREADS does not set one: the cores this process may run
    on, shared out between the MPI ranks on this node (N ranks each running on all the cores
    would fight over them: each epoch several times slower than one thread per rank)."""
    environ = os.environ if environ is None else environ
    if environ.get("OMP_NUM_THREADS"):
        return None
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    local = ranks_on_this_node(environ)
    return max(1, cores // local) if local > 1 else None


_under_mpi = default_threads()
if _under_mpi is not None:
    _openmp.omp_set_num_threads(_under_mpi)
