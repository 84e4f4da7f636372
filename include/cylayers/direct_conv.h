/* Direct convolution for few input channels (cylayers/_kernels/direct_conv.pyx), float and
 * double: no column matrix and no BLAS call. One output row (all its output channels) at a
 * time, from a buffer holding the input rows it reads, each zero-padded. Blocks of
 * CYL_DC_BLOCK output channels x VL output columns are accumulated in registers over every tap
 * (input channel x kernel offset): per tap, a load of the columns and a multiply-add with each
 * channel's weight. A product with so few taps (K = C * taps, e.g. 27) is far from the BLAS's
 * peak and needs a column matrix first; this needs neither (measured: docs/performance.md). */
#ifndef CYLAYERS_DIRECT_CONV_H
#define CYLAYERS_DIRECT_CONV_H

#include <stddef.h>

#include "cylayers/vector_width.h"

/* Output channels per register block: with 512-bit vectors 8 channels x 2 vectors = 16
 * accumulators, and per tap 2 loads + 8 broadcasts for 16 multiply-adds (16 channels x 1
 * vector measured 1.7x slower: 17 loads per 16); with 16 registers, 6 channels x 2 vectors. */
#define CYL_DC_BLOCK CYL_BLOCK_ROWS

/* weights (O, K) -> (ceil(O / BLOCK), K, BLOCK), zero past O: a tap's block weights adjacent */
#define CYL_DEFINE_DIRECT_CONV_PACK(T, SUFFIX)                                                  \
static inline void cyl_dc_pack_weights_##SUFFIX(const T *w, T *packed, ptrdiff_t O,           \
                                                ptrdiff_t K) {                                  \
    ptrdiff_t blocks = (O + CYL_DC_BLOCK - 1) / CYL_DC_BLOCK;                                  \
    for (ptrdiff_t ob = 0; ob < blocks; ob++)                                                   \
        for (ptrdiff_t t = 0; t < K; t++)                                                       \
            for (ptrdiff_t q = 0; q < CYL_DC_BLOCK; q++) {                                      \
                ptrdiff_t o = ob * CYL_DC_BLOCK + q;                                            \
                packed[(ob * K + t) * CYL_DC_BLOCK + q] = o < O ? w[o * K + t] : (T)0;          \
            }                                                                                   \
}

/* cyl_dc_row_<NAME>: VL output columns at a time (two vectors for wide rows, one for
 * rows of at most one vector, which would otherwise compute half a block for nothing). */
#define CYL_DEFINE_DIRECT_CONV_ROW(T, NAME, VL)                                                 \
/* One output row of every output channel. rows: the padded input rows; tap t reads            \
 * rows[offset[t] + column]. out[o * plane + column] for column < out_w. rows must hold        \
 * offset[t] + ceil(out_w / VL) * VL elements for every t. bias may be NULL. */                 \
static inline void cyl_dc_row_##NAME(const T *rows, const ptrdiff_t *offset, ptrdiff_t K,    \
                                       const T *packed, const T *bias, ptrdiff_t O,            \
                                       T *out, ptrdiff_t plane, ptrdiff_t out_w) {              \
    for (ptrdiff_t ob = 0; ob < O; ob += CYL_DC_BLOCK) {                                        \
        const T *wb = packed + ob * K;                                                          \
        ptrdiff_t nob = O - ob < CYL_DC_BLOCK ? O - ob : CYL_DC_BLOCK;                          \
        for (ptrdiff_t x0 = 0; x0 < out_w; x0 += VL) {                                          \
            T acc[CYL_DC_BLOCK][VL];                                                            \
            for (int q = 0; q < CYL_DC_BLOCK; q++) {                                            \
                T b0 = (bias != NULL && q < nob) ? bias[ob + q] : (T)0;                         \
                _Pragma("omp simd")                                                             \
                for (int j = 0; j < VL; j++)                                                    \
                    acc[q][j] = b0;                                                             \
            }                                                                                   \
            for (ptrdiff_t t = 0; t < K; t++) {                                                 \
                const T *src = rows + offset[t] + x0;                                           \
                const T *wt = wb + t * CYL_DC_BLOCK;                                            \
                for (int q = 0; q < CYL_DC_BLOCK; q++) {                                        \
                    T wq = wt[q];                                                               \
                    _Pragma("omp simd")                                                         \
                    for (int j = 0; j < VL; j++)                                                \
                        acc[q][j] += wq * src[j];                                               \
                }                                                                               \
            }                                                                                   \
            ptrdiff_t nx = out_w - x0 < VL ? out_w - x0 : VL;                                   \
            for (ptrdiff_t q = 0; q < nob; q++)                                                 \
                for (ptrdiff_t j = 0; j < nx; j++)                                              \
                    out[(ob + q) * plane + x0 + j] = acc[q][j];                                 \
        }                                                                                       \
    }                                                                                           \
}

CYL_DEFINE_DIRECT_CONV_PACK(float, f)
CYL_DEFINE_DIRECT_CONV_PACK(double, d)
/* Columns per block of the wide kernels (two vectors); the narrow ones take half. */
#define CYL_DC_VL_f (2 * CYL_VECTOR_BYTES / 4)
#define CYL_DC_VL_d (2 * CYL_VECTOR_BYTES / 8)
CYL_DEFINE_DIRECT_CONV_ROW(float, f, CYL_DC_VL_f)
CYL_DEFINE_DIRECT_CONV_ROW(float, f_narrow, CYL_DC_VL_f / 2)
CYL_DEFINE_DIRECT_CONV_ROW(double, d, CYL_DC_VL_d)
CYL_DEFINE_DIRECT_CONV_ROW(double, d_narrow, CYL_DC_VL_d / 2)

/* cyl_dc_output_row_<SUFFIX>: the narrow kernel for rows of at most half a block, else the wide. */
#define CYL_DEFINE_DIRECT_CONV_OUTPUT_ROW(T, SUFFIX, VL)                                        \
static inline void cyl_dc_output_row_##SUFFIX(const T *rows, const ptrdiff_t *offset,         \
                                              ptrdiff_t K, const T *packed, const T *bias,     \
                                              ptrdiff_t O, T *out, ptrdiff_t plane,            \
                                              ptrdiff_t out_w) {                               \
    if (out_w <= (VL) / 2)                                                                      \
        cyl_dc_row_##SUFFIX##_narrow(rows, offset, K, packed, bias, O, out, plane, out_w);      \
    else                                                                                        \
        cyl_dc_row_##SUFFIX(rows, offset, K, packed, bias, O, out, plane, out_w);               \
}
CYL_DEFINE_DIRECT_CONV_OUTPUT_ROW(float, f, CYL_DC_VL_f)
CYL_DEFINE_DIRECT_CONV_OUTPUT_ROW(double, d, CYL_DC_VL_d)

#endif
