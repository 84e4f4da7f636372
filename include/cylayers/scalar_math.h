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

CYL_INLINE int32_t cyl_float_to_bits(float f) {
    union { float f; int32_t i; } u;
    u.f = f;
    return u.i;
}

/* exp(-x^2 / 2) with x split into its top 12 bits xh and the rest, so that xh^2 / 2 is exact
 * and the argument's rounding (x^2 eps, 18 float32 steps at x = -6) does not reach the result.
 * The rest's factor exp(b), b = -(x - xh)(x + xh) / 2 with |b| < 2^-11 x^2, is a Taylor
 * polynomial: below 1e-9 relative error while |x| < 9, below 1e-7 until the result leaves the
 * normal floats (|x| = 13.2). */
CYL_INLINE float cyl_exp_half_square_neg_f(float x) {
    float a = fabsf(x);
    a = a > 20.0f ? 20.0f : a;  /* the result is 0 from 14.4 on; inf - inf would be NaN */
    float ah = cyl_bits_to_float(cyl_float_to_bits(a) & (int32_t)0xfffff000);
    float b = -0.5f * (a - ah) * (a + ah);
    float rest = 1.0f + b * (1.0f + b * (0.5f + b * (1.0f / 6.0f + b * (1.0f / 24.0f))));
    return cyl_exp_nonpositive_f(-0.5f * ah * ah) * rest;
}

/* The standard normal's tail 1 - Phi(|x|) = 0.5 erfc(z), z = |x| / sqrt 2, from e =
 * exp(-x^2 / 2) = exp(-z^2): 0.5 e R(z) with R = erfc(z) exp(z^2) as one rational fit on
 * [0, 10.5] (degrees 4 and 5, relative error 6e-9 before rounding, 4e-7 in float32). One
 * exp and one quotient for both sides of Phi, which cancels nowhere: Phi(x) = tail for x < 0,
 * 1 - tail (at most 0.5) otherwise. z is capped where e is already 0 (R(inf) would be NaN). */
CYL_INLINE float cyl_normal_tail_f(float x, float e) {
    float z = fabsf(x) * (float)CYL_SQRT1_2;
    z = z > 10.5f ? 10.5f : z;
    float p = 3.313832266e-02f;
    p = p * z + 2.308435652e-01f;
    p = p * z + 7.350082702e-01f;
    p = p * z + 1.241655088e+00f;
    p = p * z + 1.000000006e+00f;
    float q = 5.873550270e-02f;
    q = q * z + 4.091844175e-01f;
    q = q * z + 1.331723915e+00f;
    q = q * z + 2.409296293e+00f;
    q = q * z + 2.370034875e+00f;
    q = q * z + 1.0f;
    return 0.5f * e * (p / q);
}

/* The standard normal CDF Phi(x), float32, vectorizable; NaN passes through. */
CYL_INLINE float cyl_normal_cdf_f(float x) {
    float tail = cyl_normal_tail_f(x, cyl_exp_half_square_neg_f(x));
    return x < 0.0f ? tail : 1.0f - tail;
}

/* GELU, exact form, float32: x * Phi(x) with the vectorizable Phi above; its derivative
 * Phi(x) + x phi(x) shares Phi's exp with the density phi. */
CYL_INLINE float cyl_gelu_f(float x) {
    return x * cyl_normal_cdf_f(x);
}
CYL_INLINE float cyl_gelu_grad_f(float x) {
    float e = cyl_exp_half_square_neg_f(x);
    float tail = cyl_normal_tail_f(x, e);
    float cdf = x < 0.0f ? tail : 1.0f - tail;
    return cdf + x * (float)CYL_INV_SQRT_2PI * e;
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
