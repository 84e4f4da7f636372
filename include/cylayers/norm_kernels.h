/* Inner loops of the normalization kernels, float and double, float64 accumulation.
 *
 * Each reduction carries an `omp simd reduction` pragma: that lets the compiler split the float64
 * sums across vector lanes (plain -O3 must keep them sequential, four cycles per element). The
 * Cython kernels call these from their prange over tiles / rows. */
#ifndef CYLAYERS_NORM_KERNELS_H
#define CYLAYERS_NORM_KERNELS_H

#include <stddef.h>

#define CYL_DEFINE_NORM_KERNELS(T, SUFFIX)                                                      \
/* mean and M2 = sum (x - mean)^2 of x[0:n] in one pass over shifted data: d = x - x[0] keeps   \
 * the sums small whatever the mean (no cancellation for x = 1e4 + N(0, 1)), in float64.        \
 */                                                                                             \
static inline void cyl_tile_stats_##SUFFIX(const T *x, ptrdiff_t n, double *mean, double *m2) { \
    if (n <= 0) { *mean = 0.0; *m2 = 0.0; return; }                                             \
    const double shift = (double)x[0];                                                          \
    double s1 = 0.0, s2 = 0.0;                                                                  \
    _Pragma("omp simd reduction(+:s1,s2)")                                                      \
    for (ptrdiff_t i = 0; i < n; i++) { double d = (double)x[i] - shift; s1 += d; s2 += d * d; } \
    double md = s1 / (double)n;                                                                 \
    double v = s2 - s1 * md;                                                                    \
    *mean = shift + md;                                                                         \
    *m2 = v > 0.0 ? v : (v == v ? 0.0 : v);                                                     \
}                                                                                               \
                                                                                                \
/* out = (x - center) * scale + shift */                                                        \
static inline void cyl_affine_##SUFFIX(const T *x, T *out, ptrdiff_t n, double center,          \
                                       double scale, double shift) {                            \
    /* Elementwise work in T (the statistics stay float64). The center is split into a T part   \
     * and its T remainder: x - c_hi is exact for x near the center, so a large mean            \
     * (x = 1e4 + N(0, 1)) costs no precision at T speed. */                                    \
    const T c_hi = (T)center, c_lo = (T)(center - (double)c_hi);                                \
    const T a = (T)scale, b = (T)shift;                                                         \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t i = 0; i < n; i++) out[i] = ((x[i] - c_hi) - c_lo) * a + b;                  \
}                                                                                               \
                                                                                                \
/* sum g and sum g * (x - center) */                                                            \
static inline void cyl_grad_sums_##SUFFIX(const T *g, const T *x, ptrdiff_t n, double center,   \
                                          double *sum_g, double *sum_gxc) {                     \
    double s1 = 0.0, s2 = 0.0;                                                                  \
    _Pragma("omp simd reduction(+:s1,s2)")                                                      \
    for (ptrdiff_t i = 0; i < n; i++) {                                                         \
        double gv = (double)g[i];                                                               \
        s1 += gv;                                                                               \
        s2 += gv * ((double)x[i] - center);                                                     \
    }                                                                                           \
    *sum_g = s1;                                                                                \
    *sum_gxc = s2;                                                                              \
}                                                                                               \
                                                                                                \
/* dx = ga * g + xa * (x - center) + c0 */                                                      \
static inline void cyl_affine_grad_##SUFFIX(const T *g, const T *x, T *dx, ptrdiff_t n,         \
                                            double center, double ga, double xa, double c0) {   \
    const T c_hi = (T)center, c_lo = (T)(center - (double)c_hi);                                \
    const T a = (T)ga, k = (T)xa, z = (T)c0;                                                    \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = a * g[i] + k * ((x[i] - c_hi) - c_lo) + z;        \
}                                                                                               \
                                                                                                \
/* One LayerNorm row: statistics, then (x - mean) * inv_std * gamma + beta (gamma/beta may be   \
 * NULL). Writes the row's mean and inv_std for backward. */                                    \
static inline void cyl_layer_norm_row_##SUFFIX(const T *x, const T *gamma, const T *beta,       \
                                               T *out, ptrdiff_t n, double eps,                 \
                                               double *mean, double *inv_std) {                 \
    double mu, m2;                                                                              \
    cyl_tile_stats_##SUFFIX(x, n, &mu, &m2);                                                    \
    double rs = 1.0 / sqrt(m2 / (double)n + eps);                                               \
    *mean = mu;                                                                                 \
    *inv_std = rs;                                                                              \
    const T m = (T)mu, m_lo = (T)(mu - (double)m), r = (T)rs;                                   \
    if (gamma && beta) {                                                                        \
        _Pragma("omp simd")                                                                     \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = ((x[i] - m) - m_lo) * r * gamma[i] + beta[i]; \
    } else if (gamma) {                                                                         \
        _Pragma("omp simd")                                                                     \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = ((x[i] - m) - m_lo) * r * gamma[i];          \
    } else {                                                                                    \
        _Pragma("omp simd")                                                                     \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = ((x[i] - m) - m_lo) * r;                     \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* One LayerNorm row of backward: dx (if dx != NULL) and this thread's dgamma/dbeta sums. */    \
static inline void cyl_layer_norm_row_backward_##SUFFIX(const T *g, const T *x, const T *gamma, \
                                                        T *dx, ptrdiff_t n, double mu,          \
                                                        double rs, double *dgamma,              \
                                                        double *dbeta) {                        \
    const T m = (T)mu, m_lo = (T)(mu - (double)m), r = (T)rs;                                   \
    double s1 = 0.0, s2 = 0.0;                                                                  \
    _Pragma("omp simd reduction(+:s1,s2)")                                                      \
    for (ptrdiff_t i = 0; i < n; i++) {                                                         \
        T xh = ((x[i] - m) - m_lo) * r;                                                         \
        T gv = g[i];                                                                            \
        dgamma[i] += (double)(gv * xh);                                                         \
        dbeta[i] += (double)gv;                                                                 \
        T gg = gamma ? gv * gamma[i] : gv;                                                      \
        s1 += (double)gg;                                                                       \
        s2 += (double)(gg * xh);                                                                \
    }                                                                                           \
    if (!dx) return;                                                                            \
    const T a = (T)(s1 / (double)n), k = (T)(s2 / (double)n);                                   \
    _Pragma("omp simd")                                                                         \
    for (ptrdiff_t i = 0; i < n; i++) {                                                         \
        T xh = ((x[i] - m) - m_lo) * r;                                                         \
        T gg = gamma ? g[i] * gamma[i] : g[i];                                                  \
        dx[i] = r * (gg - a - xh * k);                                                          \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* One GroupNorm group = cpg channel planes of plane_len contiguous elements (InstanceNorm is   \
 * cpg == 1): statistics and the per-channel affine in one call, so the group is read from      \
 * memory once and from cache the second time. gamma/beta point at the group's cpg channels.    \
 */                                                                                             \
static inline void cyl_group_norm_fwd_##SUFFIX(const T *x, T *out, ptrdiff_t cpg,               \
                                               ptrdiff_t plane_len, const T *gamma,             \
                                               const T *beta, double eps, double *mean,         \
                                               double *inv_std) {                               \
    double mu, m2;                                                                              \
    cyl_tile_stats_##SUFFIX(x, cpg * plane_len, &mu, &m2);                                      \
    double rs = 1.0 / sqrt(m2 / (double)(cpg * plane_len) + eps);                               \
    *mean = mu;                                                                                 \
    *inv_std = rs;                                                                              \
    for (ptrdiff_t c = 0; c < cpg; c++)                                                         \
        cyl_affine_##SUFFIX(x + c * plane_len, out + c * plane_len, plane_len, mu,              \
                            rs * (gamma ? (double)gamma[c] : 1.0),                              \
                            beta ? (double)beta[c] : 0.0);                                      \
}                                                                                               \
                                                                                                \
/* Backward of one group: per-channel sums of g and g*(x - mean) (for dgamma/dbeta), then dx    \
 * (when dx != NULL) from the closed form, re-reading the group from cache. */                  \
static inline void cyl_group_norm_bwd_##SUFFIX(const T *g, const T *x, T *dx, ptrdiff_t cpg,    \
                                               ptrdiff_t plane_len, const T *gamma, double mu,  \
                                               double rs, double *sum_g, double *sum_gxc) {     \
    double a = 0.0, b = 0.0;                                                                    \
    for (ptrdiff_t c = 0; c < cpg; c++) {                                                       \
        cyl_grad_sums_##SUFFIX(g + c * plane_len, x + c * plane_len, plane_len, mu,             \
                               &sum_g[c], &sum_gxc[c]);                                         \
        double gm = gamma ? (double)gamma[c] : 1.0;                                             \
        a += gm * sum_g[c];                                                                     \
        b += gm * sum_gxc[c];                                                                   \
    }                                                                                           \
    if (!dx) return;                                                                            \
    double count = (double)(cpg * plane_len);                                                   \
    double mean_dxhat = a / count, mean_dxhat_xhat = rs * b / count;                            \
    for (ptrdiff_t c = 0; c < cpg; c++) {                                                       \
        double gm = gamma ? (double)gamma[c] : 1.0;                                             \
        cyl_affine_grad_##SUFFIX(g + c * plane_len, x + c * plane_len, dx + c * plane_len,      \
                                 plane_len, mu, rs * gm, -rs * rs * mean_dxhat_xhat,            \
                                 -rs * mean_dxhat);                                             \
    }                                                                                           \
}

#include <math.h>
CYL_DEFINE_NORM_KERNELS(float, f)
CYL_DEFINE_NORM_KERNELS(double, d)

#endif
