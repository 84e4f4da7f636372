/* A matrix product for thin operands (cylayers/_kernels/gemm.pyx: register_gemm), float and
 * double: C (rows x N) = A (rows x K) B (K x N), B and C row-major with N a multiple of the
 * vector length H, A at any strides (so A may be a transpose). Blocks of CYL_BLOCK_ROWS rows x
 * 2 vectors of columns accumulate in registers over the whole of K, each sum in order k = 0, 1, ... (so
 * the result does not depend on how rows are shared among threads). The Winograd products
 * have K = 16 or 32 channels, or M x N = 32 x 16 channel pairs: too thin for the BLAS's
 * packing to pay (Conv2d(16,32,3,p=1) on (64,16,8,8): 95 us per product on 2 threads). */
#ifndef CYLAYERS_SMALL_GEMM_H
#define CYLAYERS_SMALL_GEMM_H

#include <stddef.h>

#include "cylayers/vector_width.h"

#define CYL_SG_ROWS CYL_BLOCK_ROWS /* rows of C per register block */

/* Columns n0 .. n0 + W of CYL_SG_ROWS rows of C (rows past `rows` are computed from the last
 * row and not stored). */
#define CYL_DEFINE_SMALL_GEMM_BLOCK(T, NAME, W)                                                 \
static inline void cyl_sg_block_##NAME(const T *const *arow, ptrdiff_t aks, const T *B,       \
                                       T *C, ptrdiff_t rows, ptrdiff_t N, ptrdiff_t K,         \
                                       ptrdiff_t n0) {                                          \
    T acc[CYL_SG_ROWS][W];                                                                      \
    for (int r = 0; r < CYL_SG_ROWS; r++) {                                                     \
        _Pragma("omp simd")                                                                     \
        for (int j = 0; j < W; j++)                                                             \
            acc[r][j] = (T)0;                                                                   \
    }                                                                                           \
    for (ptrdiff_t k = 0; k < K; k++) {                                                         \
        const T *b = B + k * N + n0;                                                            \
        for (int r = 0; r < CYL_SG_ROWS; r++) {                                                 \
            T ar = arow[r][k * aks];                                                            \
            _Pragma("omp simd")                                                                 \
            for (int j = 0; j < W; j++)                                                         \
                acc[r][j] += ar * b[j];                                                         \
        }                                                                                       \
    }                                                                                           \
    for (ptrdiff_t r = 0; r < rows; r++) {                                                      \
        _Pragma("omp simd")                                                                     \
        for (int j = 0; j < W; j++)                                                             \
            C[r * N + n0 + j] = acc[r][j];                                                      \
    }                                                                                           \
}

/* Up to CYL_SG_ROWS rows of C: row r of A is A[r * ars + k * aks]. */
#define CYL_DEFINE_SMALL_GEMM(T, SUFFIX, H)                                                     \
CYL_DEFINE_SMALL_GEMM_BLOCK(T, SUFFIX##_wide, 2 * H)                                            \
CYL_DEFINE_SMALL_GEMM_BLOCK(T, SUFFIX##_narrow, H)                                              \
static inline void cyl_sg_rows_##SUFFIX(const T *A, ptrdiff_t ars, ptrdiff_t aks, const T *B,  \
                                        T *C, ptrdiff_t rows, ptrdiff_t N, ptrdiff_t K) {      \
    const T *arow[CYL_SG_ROWS];                                                                 \
    ptrdiff_t n0 = 0;                                                                           \
    for (int r = 0; r < CYL_SG_ROWS; r++)                                                       \
        arow[r] = A + (r < rows ? r : rows - 1) * ars;                                          \
    for (; n0 + 2 * H <= N; n0 += 2 * H)                                                        \
        cyl_sg_block_##SUFFIX##_wide(arow, aks, B, C, rows, N, K, n0);                         \
    if (n0 < N) /* one vector left: N is a multiple of H */                                     \
        cyl_sg_block_##SUFFIX##_narrow(arow, aks, B, C, rows, N, K, n0);                       \
}

#define CYL_SG_H_f (CYL_VECTOR_BYTES / 4)
#define CYL_SG_H_d (CYL_VECTOR_BYTES / 8)
CYL_DEFINE_SMALL_GEMM(float, f, CYL_SG_H_f)
CYL_DEFINE_SMALL_GEMM(double, d, CYL_SG_H_d)

#endif
