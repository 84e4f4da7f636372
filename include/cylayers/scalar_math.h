/* Scalar activation math shared by every kernel, in float and double.
 *
 * Each function is written so that it neither overflows nor loses precision at the extremes:
 * sigmoid never evaluates exp() of a large positive number, softplus switches to the identity
 * above PyTorch's threshold, and log1p/expm1 are used where the argument can be tiny. */
#ifndef CYLAYERS_SCALAR_MATH_H
#define CYLAYERS_SCALAR_MATH_H

#include <math.h>

/* Forced inlining: a call left in a kernel loop stops it from being vectorized. */
#if defined(__GNUC__) || defined(__clang__)
#define CYL_INLINE static inline __attribute__((always_inline))
#else
#define CYL_INLINE static inline
#endif

#define CYL_SQRT1_2 0.70710678118654752440084436210485
#define CYL_SQRT2_OVER_PI 0.79788456080286535587989211986876
#define CYL_INV_SQRT_2PI 0.39894228040143267793994605993438

/* sigmoid(x) = 1 / (1 + exp(-x)); for x < 0 use exp(x) / (1 + exp(x)) so exp never overflows. */
CYL_INLINE double cyl_sigmoid_d(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
CYL_INLINE float cyl_sigmoid_f(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* ELU family: scale * (x > 0 ? x : alpha * (exp(input_scale * x) - 1)). expm1 keeps small
 * negative inputs exact, as PyTorch does (float32 uses cyl_expm1_fast_f, below). */
CYL_INLINE double cyl_elu_d(double x, double alpha, double scale, double input_scale) {
    return x > 0.0 ? scale * x : scale * alpha * expm1(input_scale * x);
}

/* softplus(x) = log1p(exp(beta x)) / beta, the identity once beta x > threshold. */
CYL_INLINE double cyl_softplus_d(double x, double beta, double threshold) {
    double bx = beta * x;
    return bx > threshold ? x : log1p(exp(bx)) / beta;
}
CYL_INLINE float cyl_softplus_f(float x, float beta, float threshold) {
    float bx = beta * x;
    return bx > threshold ? x : log1pf(expf(bx)) / beta;
}

/* GELU, exact form: x * Phi(x). */
CYL_INLINE double cyl_gelu_d(double x) { return 0.5 * x * (1.0 + erf(x * CYL_SQRT1_2)); }
CYL_INLINE double cyl_gelu_grad_d(double x) {
    double cdf = 0.5 * (1.0 + erf(x * CYL_SQRT1_2));
    return cdf + x * CYL_INV_SQRT_2PI * exp(-0.5 * x * x);
}

/* GELU, tanh approximation. */
CYL_INLINE double cyl_gelu_tanh_d(double x) {
    double inner = CYL_SQRT2_OVER_PI * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + tanh(inner));
}
CYL_INLINE double cyl_gelu_tanh_grad_d(double x) {
    double x2 = x * x;
    double inner = CYL_SQRT2_OVER_PI * (x + 0.044715 * x2 * x);
    double t = tanh(inner);
    double dinner = CYL_SQRT2_OVER_PI * (1.0 + 3.0 * 0.044715 * x2);
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner;
}
/* mish(x) = x * tanh(softplus(x)). */
CYL_INLINE double cyl_mish_d(double x) { return x * tanh(cyl_softplus_d(x, 1.0, 20.0)); }
CYL_INLINE float cyl_mish_f(float x) { return x * tanhf(cyl_softplus_f(x, 1.0f, 20.0f)); }
CYL_INLINE double cyl_mish_grad_d(double x) {
    double t = tanh(cyl_softplus_d(x, 1.0, 20.0));
    return t + x * (1.0 - t * t) * cyl_sigmoid_d(x);
}
CYL_INLINE float cyl_mish_grad_f(float x) {
    float t = tanhf(cyl_softplus_f(x, 1.0f, 20.0f));
    return t + x * (1.0f - t * t) * cyl_sigmoid_f(x);
}

/* ---- branch-free float32 exp/expm1/tanh/sigmoid --------------------------------------------
 * glibc's expf/tanhf are scalar calls that block auto-vectorization of the kernel loops. These
 * are written with selects instead of branches so gcc/clang vectorize them, and stay within a
 * few ulp of libm (Cephes-style range reduction + minimax polynomial). NaN and +-Inf propagate
 * exactly as libm does: every clamp compares with <, >, which are false for NaN. */
#include <stdint.h>

CYL_INLINE float cyl_bits_to_float(int32_t b) {
    union { int32_t i; float f; } u;   /* a union (not memcpy) keeps the loop vectorizable */
    u.i = b;
    return u.f;
}

/* The float range where expf is finite and non-zero: ln(FLT_MAX) and ln of the smallest
 * subnormal. Beyond them exp is +Inf / 0. */
#define CYL_EXPF_MAX_ARG 88.72283935546875f
#define CYL_EXPF_MIN_ARG -103.97208f

/* exp of an argument already clamped to [CYL_EXPF_MIN_ARG, CYL_EXPF_MAX_ARG]: Cody-Waite
 * reduction x = n ln2 + r, a degree-6 polynomial for exp(r), and 2^n applied in two halves so
 * that results from subnormal (n down to -150) to the largest float (n = 128) come out right. */
CYL_INLINE float cyl_exp_clamped_f(float xc) {
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f;               /* 1.5 * 2^23: float round-to-int */
    float t = xc * log2e + round_magic;
    float n = t - round_magic;
    float r = xc - n * ln2_hi;
    r = r - n * ln2_lo;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    int32_t ni = (int32_t)n;
    int32_t n1 = ni >> 1, n2 = ni - n1;
    return p * cyl_bits_to_float((n1 + 127) << 23) * cyl_bits_to_float((n2 + 127) << 23);
}

CYL_INLINE float cyl_exp_fast_f(float x) {
    float xc = x > CYL_EXPF_MAX_ARG ? CYL_EXPF_MAX_ARG : x;
    xc = xc < CYL_EXPF_MIN_ARG ? CYL_EXPF_MIN_ARG : xc;
    float y = cyl_exp_clamped_f(xc);
    y = x > CYL_EXPF_MAX_ARG ? INFINITY : y;
    y = x < CYL_EXPF_MIN_ARG ? 0.0f : y;
    return x != x ? x : y;
}

CYL_INLINE float cyl_expm1_fast_f(float x) {
    /* Taylor series near 0 where exp(x) - 1 would cancel; exp(x) - 1 elsewhere. */
    float p = x * (1.0f / 362880.0f) + (1.0f / 40320.0f);
    p = p * x + (1.0f / 5040.0f);
    p = p * x + (1.0f / 720.0f);
    p = p * x + (1.0f / 120.0f);
    p = p * x + (1.0f / 24.0f);
    p = p * x + (1.0f / 6.0f);
    p = p * x + 0.5f;
    p = (p * x) * x + x;
    float e = cyl_exp_fast_f(x) - 1.0f;
    return fabsf(x) < 0.5f ? p : e;
}

CYL_INLINE float cyl_tanh_fast_f(float x) {
    /* tanh(x) = expm1(2|x|) / (expm1(2|x|) + 2), sign restored; saturates to +-1 exactly.
     * fabsf/copysignf are bit operations that keep the loop vectorizable (fminf is not: it is a
     * libm call because of its NaN rule). Clamping keeps exp finite, so e / (e + 2) is never
     * inf / inf. */
    float a2 = 2.0f * fabsf(x);
    a2 = a2 > 40.0f ? 40.0f : a2;
    float e = cyl_expm1_fast_f(a2);
    float t = copysignf(e / (e + 2.0f), x);
    return x != x ? x : t;
}

/* exp(x) for x <= 0 only (sigmoid's exp(-|x|), softmax's exp(x - max)): no overflow path. */
CYL_INLINE float cyl_exp_nonpositive_f(float x) {
    float xc = x < CYL_EXPF_MIN_ARG ? CYL_EXPF_MIN_ARG : x;
    float y = cyl_exp_clamped_f(xc);
    return x < CYL_EXPF_MIN_ARG ? 0.0f : y;
}

CYL_INLINE float cyl_sigmoid_fast_f(float x) {
    float ax = x < 0.0f ? -x : x;
    float e = cyl_exp_nonpositive_f(-ax);
    float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : (x < 0.0f ? e * r : x);   /* the last branch passes NaN through */
}

/* erf(x) in float32 without a libm call, so the GELU loops vectorize: x * P(x^2) / Q(x^2), a
 * rational minimax-style fit of erf(x)/x on |x| < 4 (degrees 6 and 5, relative error 5e-9
 * before float rounding; measured against erf in float64: at most 6 ulp, 0.6 ulp on average
 * over [-6, 6]); +-1 from 3.919206, where erff rounds to 1. NaN passes through. */
CYL_INLINE float cyl_erf_fast_f(float x) {
    float t = x * x;
    float p = -1.315562290e-08f;
    p = p * t + 4.676933901e-06f;
    p = p * t + 3.793020791e-04f;
    p = p * t + 3.847184593e-03f;
    p = p * t + 5.430507916e-02f;
    p = p * t + 1.851618560e-01f;
    p = p * t + 1.128379169e+00f;
    float q = 6.303878409e-05f;
    q = q * t + 1.306681468e-03f;
    q = q * t + 1.545603081e-02f;
    q = q * t + 1.139357156e-01f;
    q = q * t + 4.974288337e-01f;
    q = q * t + 1.0f;
    float r = x * p / q;
    return fabsf(x) >= 3.919206f ? copysignf(1.0f, x) : r;
}

CYL_INLINE int32_t cyl_float_to_bits(float f) {
    union { float f; int32_t i; } u;
    u.f = f;
    return u.i;
}

/* exp(-x^2 / 2) with x split into its top 12 bits xh and the rest, so that xh^2 / 2 is exact
 * and the argument's rounding (x^2 eps, 18 float32 steps at x = -6) does not reach the result. */
CYL_INLINE float cyl_exp_half_square_neg_f(float x) {
    float xh = cyl_bits_to_float(cyl_float_to_bits(x) & (int32_t)0xfffff000);
    return cyl_exp_fast_f(-0.5f * xh * xh) * cyl_exp_fast_f(-0.5f * (x - xh) * (x + xh));
}

/* The standard normal CDF Phi(x), float32, vectorizable. 0.5 (1 + erf(x / sqrt 2)) cancels for
 * x << 0 (1e-3 relative error at x = -3.9); there Phi(x) = 0.5 exp(-x^2 / 2) R(-x / sqrt 2), R
 * = erfc(z) exp(z^2) as a rational fit on [0.4, 10.5] (degrees 4 and 5, relative error 6e-9
 * before rounding). Measured against float64: a few float32 steps relative on both sides. */
CYL_INLINE float cyl_normal_cdf_f(float x) {
    float upper = 0.5f * (1.0f + cyl_erf_fast_f(x * (float)CYL_SQRT1_2));
    float z = -x * (float)CYL_SQRT1_2;
    float p = 4.357775122e-02f;
    p = p * z + 2.733085234e-01f;
    p = p * z + 8.179600155e-01f;
    p = p * z + 1.314116057e+00f;
    p = p * z + 1.000007907e+00f;
    float q = 7.723928059e-02f;
    q = q * z + 4.844383223e-01f;
    q = q * z + 1.488201468e+00f;
    q = q * z + 2.573733836e+00f;
    q = q * z + 2.442576844e+00f;
    q = q * z + 1.0f;
    float lower = 0.5f * cyl_exp_half_square_neg_f(x) * (p / q);
    return x < -0.70710678f ? lower : upper;
}

/* GELU, exact form, float32: x * Phi(x) with the vectorizable Phi above. */
CYL_INLINE float cyl_gelu_f(float x) {
    return x * cyl_normal_cdf_f(x);
}
CYL_INLINE float cyl_gelu_grad_f(float x) {
    return cyl_normal_cdf_f(x) + x * (float)CYL_INV_SQRT_2PI * cyl_exp_half_square_neg_f(x);
}

/* GELU, tanh approximation, float32: the vectorizable tanh above instead of libm's tanhf. */
CYL_INLINE float cyl_gelu_tanh_f(float x) {
    float inner = (float)CYL_SQRT2_OVER_PI * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + cyl_tanh_fast_f(inner));
}
CYL_INLINE float cyl_gelu_tanh_grad_f(float x) {
    float x2 = x * x;
    float inner = (float)CYL_SQRT2_OVER_PI * (x + 0.044715f * x2 * x);
    float t = cyl_tanh_fast_f(inner);
    float dinner = (float)CYL_SQRT2_OVER_PI * (1.0f + 3.0f * 0.044715f * x2);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner;
}

#endif
