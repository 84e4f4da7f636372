/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
 *
 * A counter-based generator: the four 32-bit outputs are a pure function of a 128-bit counter
 * and a 64-bit key. cylayers uses counter = (block index, stream offset) and key = seed, so the
 * random number of unit u depends on (seed, offset, u) only, never on the thread that computes
 * it; backward regenerates a dropout mask instead of storing it.
 *
 * Each Philox call yields 128 bits, split into four 32-bit uniforms: one per unit. A unit is
 * kept when its uniform is below threshold = round(keep_prob * 2^32) (capped at 2^32 - 1), so
 * keep probabilities are exact to about 2^-32: even p = 0.999999 keeps 1e-6 of the units, not a
 * 16-bit rounding of it. One call serves four elements. */
#ifndef CYLAYERS_PHILOX_H
#define CYLAYERS_PHILOX_H

#include <stdint.h>

#define CYL_PHILOX_M0 0xD2511F53u
#define CYL_PHILOX_M1 0xCD9E8D57u
#define CYL_PHILOX_W0 0x9E3779B9u
#define CYL_PHILOX_W1 0xBB67AE85u
#define CYL_UNITS_PER_BLOCK 4

/* The 10 rounds, written on scalars only so that a loop over blocks vectorizes. */
#define CYL_PHILOX_ROUNDS(c0, c1, c2, c3, key0, key1)                                         \
    do {                                                                                      \
        uint32_t k0_ = (key0), k1_ = (key1);                                                  \
        for (int round_ = 0; round_ < 10; round_++) {                                         \
            uint64_t p0_ = (uint64_t)CYL_PHILOX_M0 * c0;                                      \
            uint64_t p1_ = (uint64_t)CYL_PHILOX_M1 * c2;                                      \
            uint32_t n0_ = (uint32_t)(p1_ >> 32) ^ c1 ^ k0_;                                  \
            uint32_t n2_ = (uint32_t)(p0_ >> 32) ^ c3 ^ k1_;                                  \
            c0 = n0_; c1 = (uint32_t)p1_; c2 = n2_; c3 = (uint32_t)p0_;                       \
            k0_ += CYL_PHILOX_W0; k1_ += CYL_PHILOX_W1;                                       \
        }                                                                                     \
    } while (0)

/* Keep flag of unit u (an element, or a whole channel for feature dropout). */
static inline int cyl_keep_unit(uint64_t u, uint64_t seed, uint64_t offset, uint32_t threshold) {
    uint64_t block = u / CYL_UNITS_PER_BLOCK;
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32);
    uint32_t c2 = (uint32_t)offset, c3 = (uint32_t)(offset >> 32);
    CYL_PHILOX_ROUNDS(c0, c1, c2, c3, (uint32_t)seed, (uint32_t)(seed >> 32));
    uint32_t words[4] = {c0, c1, c2, c3};
    return words[u % CYL_UNITS_PER_BLOCK] < threshold;
}

#if defined(__AVX2__)
#include <immintrin.h>
#define CYL_HAVE_PHILOX_X8 1

/* hi and lo 32 bits of the 64-bit products a[i] * m for the 8 lanes (AVX2 multiplies the even
 * lanes' 32-bit halves: the odd lanes go through a shift). */
static inline void cyl_mulhilo_x8(__m256i a, __m256i m, __m256i *hi, __m256i *lo) {
    __m256i even = _mm256_mul_epu32(a, m);
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* The keep flags (all ones: kept) of the 32 elements of blocks b .. b+7, in element order: the
 * same Philox words as cyl_keep_unit's, eight blocks per vector lane, then transposed so that
 * keep[j] holds elements 8j .. 8j+7. */
static inline void cyl_keep_masks_x8(int64_t b, uint32_t off0, uint32_t off1, uint32_t key0,
                                     uint32_t key1, uint32_t threshold, __m256i keep[4]) {
    __m256i c0, c1, c2 = _mm256_set1_epi32((int)off0), c3 = _mm256_set1_epi32((int)off1);
    uint32_t lo = (uint32_t)b;
    if (lo <= 0xFFFFFFF7u) { /* the eight block numbers share their high word */
        c0 = _mm256_add_epi32(_mm256_set1_epi32((int)lo), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        c1 = _mm256_set1_epi32((int)(uint32_t)((uint64_t)b >> 32));
    } else {
        uint32_t l[8], h[8];
        for (int i = 0; i < 8; i++) {
            l[i] = (uint32_t)(b + i);
            h[i] = (uint32_t)((uint64_t)(b + i) >> 32);
        }
        c0 = _mm256_loadu_si256((const __m256i *)l);
        c1 = _mm256_loadu_si256((const __m256i *)h);
    }
    const __m256i m0 = _mm256_set1_epi32((int)CYL_PHILOX_M0);
    const __m256i m1 = _mm256_set1_epi32((int)CYL_PHILOX_M1);
    uint32_t k0 = key0, k1 = key1;
    for (int round = 0; round < 10; round++) {
        __m256i hi0, lo0, hi1, lo1;
        cyl_mulhilo_x8(c0, m0, &hi0, &lo0);
        cyl_mulhilo_x8(c2, m1, &hi1, &lo1);
        __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
        __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        k0 += CYL_PHILOX_W0; k1 += CYL_PHILOX_W1;
    }
    __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
    __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i e[4] = {_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u2, u3, 0x20),
                    _mm256_permute2x128_si256(u0, u1, 0x31), _mm256_permute2x128_si256(u2, u3, 0x31)};
    /* unsigned word < threshold, as a signed compare of both with the sign bit flipped */
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256i limit = _mm256_xor_si256(_mm256_set1_epi32((int)threshold), sign);
    for (int j = 0; j < 4; j++)
        keep[j] = _mm256_cmpgt_epi32(limit, _mm256_xor_si256(e[j], sign));
}

/* The product rounded before the add, as at every other level: the compiler may not fuse the
 * two into one FMA (it may fuse intrinsics), so all levels give the same bits. */
#define CYL_ROUNDED(v) __asm__("" : "+x"(v))

/* The masked affine of the 32 elements of blocks b .. b+7 (x and out point at element 4b). */
static inline void cyl_masked_affine_x8_f(const float *x, float *out, int64_t b, uint32_t off0,
                                          uint32_t off1, uint32_t key0, uint32_t key1,
                                          uint32_t threshold, float mul, float add,
                                          float drop_add) {
    __m256i keep[4];
    cyl_keep_masks_x8(b, off0, off1, key0, key1, threshold, keep);
    const __m256 vmul = _mm256_set1_ps(mul), vadd = _mm256_set1_ps(add);
    const __m256 vdrop = _mm256_set1_ps(drop_add);
    for (int j = 0; j < 4; j++) {
        __m256 k = _mm256_castsi256_ps(keep[j]);
        __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * j), _mm256_and_ps(k, vmul));
        CYL_ROUNDED(scaled);
        _mm256_storeu_ps(out + 8 * j, _mm256_add_ps(scaled, _mm256_blendv_ps(vdrop, vadd, k)));
    }
}

static inline void cyl_masked_affine_x8_d(const double *x, double *out, int64_t b, uint32_t off0,
                                          uint32_t off1, uint32_t key0, uint32_t key1,
                                          uint32_t threshold, double mul, double add,
                                          double drop_add) {
    __m256i keep[4];
    cyl_keep_masks_x8(b, off0, off1, key0, key1, threshold, keep);
    const __m256d vmul = _mm256_set1_pd(mul), vadd = _mm256_set1_pd(add);
    const __m256d vdrop = _mm256_set1_pd(drop_add);
    for (int j = 0; j < 8; j++) { /* four elements at a time: widen their flags to 64 bits */
        __m128i flags = (j & 1) ? _mm256_extracti128_si256(keep[j >> 1], 1)
                                : _mm256_castsi256_si128(keep[j >> 1]);
        __m256d k = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(flags));
        __m256d scaled = _mm256_mul_pd(_mm256_loadu_pd(x + 4 * j), _mm256_and_pd(k, vmul));
        CYL_ROUNDED(scaled);
        _mm256_storeu_pd(out + 4 * j, _mm256_add_pd(scaled, _mm256_blendv_pd(vdrop, vadd, k)));
    }
}
#else
#define CYL_HAVE_PHILOX_X8 0
#endif

/* out[i] = x[i] * (keep ? mul : 0) + (keep ? add : drop_add) for elements [4*b0, 4*b1) ∩ [0, n).
 * The multiply form (not a select) matches PyTorch's input * mask: a dropped inf gives NaN.
 * Backward calls it on the gradient with add = drop_add = 0: the same mask, regenerated. */
#define CYL_DEFINE_MASKED_AFFINE(T, SUFFIX)                                                     \
static inline void cyl_masked_affine_##SUFFIX(const T *x, T *out, int64_t n, int64_t b0,       \
                                              int64_t b1, uint64_t seed, uint64_t offset,       \
                                              uint32_t threshold, T mul, T add, T drop_add) {   \
    const uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);                        \
    const uint32_t off0 = (uint32_t)offset, off1 = (uint32_t)(offset >> 32);                    \
    int64_t full = n / CYL_UNITS_PER_BLOCK;                                                     \
    int64_t end = b1 < full ? b1 : full;                                                        \
    int64_t first = b0;                                                                         \
    if (CYL_HAVE_PHILOX_X8) /* eight blocks at a time on 256-bit vectors */                     \
        for (; first + 8 <= end; first += 8)                                                    \
            CYL_MASKED_AFFINE_X8_##SUFFIX(x + 4 * first, out + 4 * first, first, off0, off1,     \
                                          key0, key1, threshold, mul, add, drop_add);           \
    _Pragma("omp simd")                                                                         \
    for (int64_t b = first; b < end; b++) {                                                     \
        uint32_t c0 = (uint32_t)b, c1 = (uint32_t)((uint64_t)b >> 32), c2 = off0, c3 = off1;    \
        CYL_PHILOX_ROUNDS(c0, c1, c2, c3, key0, key1);                                          \
        const T *xb = x + 4 * b;                                                                \
        T *ob = out + 4 * b;                                                                    \
        int k0 = c0 < threshold, k1 = c1 < threshold, k2 = c2 < threshold, k3 = c3 < threshold; \
        ob[0] = xb[0] * (k0 ? mul : (T)0) + (k0 ? add : drop_add);                              \
        ob[1] = xb[1] * (k1 ? mul : (T)0) + (k1 ? add : drop_add);                              \
        ob[2] = xb[2] * (k2 ? mul : (T)0) + (k2 ? add : drop_add);                              \
        ob[3] = xb[3] * (k3 ? mul : (T)0) + (k3 ? add : drop_add);                              \
    }                                                                                           \
    if (b1 > full) { /* the partial last block, if this range owns it */                        \
        for (int64_t i = 4 * full; i < n; i++) {                                                \
            int k = cyl_keep_unit((uint64_t)i, seed, offset, threshold);                        \
            out[i] = x[i] * (k ? mul : (T)0) + (k ? add : drop_add);                            \
        }                                                                                       \
    }                                                                                           \
}

#if CYL_HAVE_PHILOX_X8
#define CYL_MASKED_AFFINE_X8_f cyl_masked_affine_x8_f
#define CYL_MASKED_AFFINE_X8_d cyl_masked_affine_x8_d
#else /* never called: the branch above is compiled out */
#define CYL_MASKED_AFFINE_X8_f(...) ((void)0)
#define CYL_MASKED_AFFINE_X8_d(...) ((void)0)
#endif
CYL_DEFINE_MASKED_AFFINE(float, f)
CYL_DEFINE_MASKED_AFFINE(double, d)

#endif
