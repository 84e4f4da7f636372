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
    _Pragma("omp simd")                                                                         \
    for (int64_t b = b0; b < end; b++) {                                                        \
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

CYL_DEFINE_MASKED_AFFINE(float, f)
CYL_DEFINE_MASKED_AFFINE(double, d)

#endif
