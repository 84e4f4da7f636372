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
/* one tile of outputs for nl channels, y = A^T m A (+ bias), from the 16 rows of M             \
 * `step` apart into two output rows y0, y1 (the tile's 2 columns, channels last);              \
 * bias may be NULL */                                                                          \
static inline void cyl_wino_at_##SUFFIX(const T *m, ptrdiff_t step, ptrdiff_t nl,              \
                                        const T *bias, T *y0, T *y1) {                          \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t l = 0; l < nl; l++) {                                                        \
        T t0[4], t1[4];                                                                         \
        for (int k = 0; k < 4; k++) {                                                           \
            T a = m[k * step + l], b = m[(4 + k) * step + l], c = m[(8 + k) * step + l];        \
            t0[k] = a + b + c;                                                                  \
            t1[k] = b - c - m[(12 + k) * step + l];                                             \
        }                                                                                       \
        T s = bias ? bias[l] : (T)0;                                                            \
        y0[l] = t0[0] + t0[1] + t0[2] + s;                                                      \
        y0[nl + l] = t0[1] - t0[2] - t0[3] + s;                                                 \
        y1[l] = t1[0] + t1[1] + t1[2] + s;                                                      \
        y1[nl + l] = t1[1] - t1[2] - t1[3] + s;                                                 \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* the adjoint of cyl_wino_at: the 16 rows of dM `step` apart = A dy A^T for one tile of the   \
 * output's gradient (g0, g1: its two rows, 2 columns, channels last) */                        \
static inline void cyl_wino_at_adjoint_##SUFFIX(const T *g0, const T *g1, ptrdiff_t nl,        \
                                                T *dm, ptrdiff_t step) {                        \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t l = 0; l < nl; l++) {                                                        \
        T a0 = g0[l], a1 = g0[nl + l], b0 = g1[l], b1 = g1[nl + l];                             \
        T t[4][2] = {{a0, a1}, {a0 + b0, a1 + b1}, {a0 - b0, a1 - b1}, {-b0, -b1}};             \
        for (int i = 0; i < 4; i++) {                                                           \
            dm[(4 * i) * step + l] = t[i][0];                                                   \
            dm[(4 * i + 1) * step + l] = t[i][0] + t[i][1];                                     \
            dm[(4 * i + 2) * step + l] = t[i][0] - t[i][1];                                     \
            dm[(4 * i + 3) * step + l] = -t[i][1];                                              \
        }                                                                                       \
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
