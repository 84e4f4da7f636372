"""What the compiled kernels were built with: OpenMP or not, how many threads it offers, and
how wide their vectors are."""

cdef extern from "cylayers/openmp_compat.h" nogil:
    int cyl_have_openmp()
    int cyl_omp_max_threads()
    void cyl_omp_set_num_threads(int n)

cdef extern from "cylayers/vector_width.h" nogil:
    int cyl_vector_bytes()


def have_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(cyl_have_openmp())


def omp_max_threads():
    """OpenMP's own default team size (1 in a serial build)."""
    return cyl_omp_max_threads()


def omp_set_num_threads(int n):
    """Set OpenMP's team size (what threadpoolctl sets too, so both are seen the same way)."""
    cyl_omp_set_num_threads(n)


def vector_bytes():
    """Width in bytes of the vectors this level of the kernels is compiled for (16, 32 or 64)."""
    return cyl_vector_bytes()
