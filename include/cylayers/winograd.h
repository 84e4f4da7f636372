/* Inner loops of the Winograd F(2x2, 3x3) input transforms (cylayers/_kernels/winograd.pyx),
 * float and double. They run over channels-last rows: (column, channel) flattened, so each is one
 * contiguous loop. The `omp simd` pragmas let the compiler vectorize across the several rows
 * each loop reads and writes (without them it must prove the rows apart, gives up, and runs
 * them one element at a time: measured 1.3x slower on 8x8 images). */
#ifndef CYLAYERS_WINOGRAD_H
#define CYLAYERS_WINOGRAD_H

#include <stddef.h>

#define CYL_DEFINE_WINOGRAD(T, SUFFIX)                                                          \
/* t = B^T d down the columns of 4 rows d0..d3 (n values each) into t[0..4n) */                 \
static inline void cyl_wino_bt_rows_##SUFFIX(const T *d0, const T *d1, const T *d2,           \
                                             const T *d3, T *t, ptrdiff_t n) {                \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t q = 0; q < n; q++) {                                                         \
        t[q] = d0[q] - d2[q];                                                                   \
        t[n + q] = d1[q] + d2[q];                                                               \
        t[2 * n + q] = d2[q] - d1[q];                                                           \
        t[3 * n + q] = d1[q] - d3[q];                                                           \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* one tile's row of V: (t B) for the 4 columns t[0..4nl) (nl channels each), into 4 rows of V  \
 * `step` apart */                                                                              \
static inline void cyl_wino_tb_##SUFFIX(const T *t, ptrdiff_t nl, T *v, ptrdiff_t step) {     \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t l = 0; l < nl; l++) {                                                        \
        v[l] = t[l] - t[2 * nl + l];                                                            \
        v[step + l] = t[nl + l] + t[2 * nl + l];                                                \
        v[2 * step + l] = t[2 * nl + l] - t[nl + l];                                            \
        v[3 * step + l] = t[nl + l] - t[3 * nl + l];                                            \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* the adjoint of cyl_wino_tb: h[0..4nl) += (v B^T) for 4 rows of dV `step` apart */            \
static inline void cyl_wino_tb_adjoint_##SUFFIX(const T *v, ptrdiff_t step, T *h,             \
                                                ptrdiff_t nl) {                                 \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t l = 0; l < nl; l++) {                                                        \
        T v0 = v[l], v1 = v[step + l], v2 = v[2 * step + l], v3 = v[3 * step + l];              \
        h[l] += v0;                                                                             \
        h[nl + l] += v1 - v2 + v3;                                                              \
        h[2 * nl + l] += v1 + v2 - v0;                                                          \
        h[3 * nl + l] -= v3;                                                                    \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* the adjoint of cyl_wino_bt_rows: rows r0..r3 += B (t) for t[0..4n) */                        \
static inline void cyl_wino_bt_rows_adjoint_##SUFFIX(const T *t, T *r0, T *r1, T *r2, T *r3,  \
                                                     ptrdiff_t n) {                             \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t q = 0; q < n; q++) {                                                         \
        T h0 = t[q], h1 = t[n + q], h2 = t[2 * n + q], h3 = t[3 * n + q];                       \
        r0[q] += h0;                                                                            \
        r1[q] += h1 - h2 + h3;                                                                  \
        r2[q] += h1 + h2 - h0;                                                                  \
        r3[q] -= h3;                                                                            \
    }                                                                                           \
}

/* ask for the cache lines of [p, p + nbytes) ahead of use */
static inline void cyl_prefetch_rows(const void *p, ptrdiff_t nbytes) {
    for (ptrdiff_t b = 0; b < nbytes; b += 64) __builtin_prefetch((const char *)p + b);
}

CYL_DEFINE_WINOGRAD(float, f)
CYL_DEFINE_WINOGRAD(double, d)

#endif
