"""What the compiled kernels were built with: OpenMP or not, how many threads it offers, and
how wide their vectors are."""

cdef extern from "cylayers/openmp_compat.h" nogil:
    int cyl_have_openmp()
    int cyl_omp_max_threads()
    void cyl_omp_set_num_threads(int n)

cdef extern from "cylayers/vector_width.h" nogil:
    int cyl_wide_vectors()


def have_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(cyl_have_openmp())


def omp_max_threads():
    """OpenMP's own default team size (1 in a serial build)."""
    return cyl_omp_max_threads()


def omp_set_num_threads(int n):
    """Set OpenMP's team size (what threadpoolctl sets too, so both are seen the same way)."""
    cyl_omp_set_num_threads(n)


def wide_vectors():
    """True when the kernels use 512-bit vectors: where the register-blocked direct convolution
    and thin products beat im2col and the BLAS."""
    return cyl_wide_vectors() != 0
