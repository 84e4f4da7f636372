# The register-blocked thin product and the panel product of include/cylayers/small_gemm.h.tp,
# declared once for the kernels that call them (gemm.pyx: register_gemm, panel_gemm;
# winograd.pyx: product_output).
cdef extern from "cylayers/small_gemm.h" nogil:
    int CYL_SG_ROWS
    int CYL_SG_H_f
    int CYL_SG_H_d
    int CYL_PG_WIDTH_f
    int CYL_PG_WIDTH_d
    void cyl_sg_rows_f(const float* A, Py_ssize_t ars, Py_ssize_t aks, const float* B,
                       float* C, Py_ssize_t rows, Py_ssize_t N, Py_ssize_t K)
    void cyl_sg_rows_d(const double* A, Py_ssize_t ars, Py_ssize_t aks, const double* B,
                       double* C, Py_ssize_t rows, Py_ssize_t N, Py_ssize_t K)
    void cyl_pg_panel_f(const float* A, Py_ssize_t lda, Py_ssize_t M, Py_ssize_t K,
                        const float* panel, float* C, Py_ssize_t ldc, Py_ssize_t cols)
    void cyl_pg_panel_d(const double* A, Py_ssize_t lda, Py_ssize_t M, Py_ssize_t K,
                        const double* panel, double* C, Py_ssize_t ldc, Py_ssize_t cols)


cdef inline void _sg_rows(const floating* A, Py_ssize_t ars, Py_ssize_t aks, const floating* B,
                          floating* C, Py_ssize_t rows, Py_ssize_t N,
                          Py_ssize_t K) noexcept nogil:
    """Up to CYL_SG_ROWS rows of C = A B, one name for float and double."""
    if floating is float:
        cyl_sg_rows_f(A, ars, aks, B, C, rows, N, K)
    else:
        cyl_sg_rows_d(A, ars, aks, B, C, rows, N, K)


cdef inline void _pg_panel(const floating* A, Py_ssize_t lda, Py_ssize_t M, Py_ssize_t K,
                           const floating* panel, floating* C, Py_ssize_t ldc,
                           Py_ssize_t cols) noexcept nogil:
    """C (M x cols, row stride ldc) = A (M x K, row stride lda) times one packed panel."""
    if floating is float:
        cyl_pg_panel_f(A, lda, M, K, panel, C, ldc, cols)
    else:
        cyl_pg_panel_d(A, lda, M, K, panel, C, ldc, cols)
