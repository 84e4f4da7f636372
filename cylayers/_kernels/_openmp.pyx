"""What the compiled kernels were built with: OpenMP or not, and how many threads it offers."""

cdef extern from "cylayers/openmp_compat.h" nogil:
    int cyl_have_openmp()
    int cyl_omp_max_threads()
    void cyl_omp_set_num_threads(int n)


def have_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(cyl_have_openmp())


def omp_max_threads():
    """OpenMP's own default team size (1 in a serial build)."""
    return cyl_omp_max_threads()


def omp_set_num_threads(int n):
    """Set OpenMP's team size (what threadpoolctl sets too, so both are seen the same way)."""
    cyl_omp_set_num_threads(n)
