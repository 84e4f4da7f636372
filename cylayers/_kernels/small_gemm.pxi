# The register-blocked thin product of include/cylayers/small_gemm.h.tp, declared once for the
# kernels that call it (gemm.pyx: register_gemm; winograd.pyx: product_output).
cdef extern from "cylayers/small_gemm.h" nogil:
    int CYL_SG_ROWS
    int CYL_SG_H_f
    int CYL_SG_H_d
    void cyl_sg_rows_f(const float* A, Py_ssize_t ars, Py_ssize_t aks, const float* B,
                       float* C, Py_ssize_t rows, Py_ssize_t N, Py_ssize_t K)
    void cyl_sg_rows_d(const double* A, Py_ssize_t ars, Py_ssize_t aks, const double* B,
                       double* C, Py_ssize_t rows, Py_ssize_t N, Py_ssize_t K)


cdef inline void _sg_rows(const floating* A, Py_ssize_t ars, Py_ssize_t aks, const floating* B,
                          floating* C, Py_ssize_t rows, Py_ssize_t N,
                          Py_ssize_t K) noexcept nogil:
    """Up to CYL_SG_ROWS rows of C = A B, one name for float and double."""
    if floating is float:
        cyl_sg_rows_f(A, ars, aks, B, C, rows, N, K)
    else:
        cyl_sg_rows_d(A, ars, aks, B, C, rows, N, K)
