/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
 *
 * A counter-based generator: the four 32-bit outputs are a pure function of a 128-bit counter
 * and a 64-bit key. cylayers uses counter = (block index, stream offset) and key = seed, so the
 * random number of element i depends on (seed, offset, i) only, never on the thread that
 * computes it; backward regenerates a dropout mask instead of storing it. */
#ifndef CYLAYERS_PHILOX_H
#define CYLAYERS_PHILOX_H

#include <stdint.h>

#define CYL_PHILOX_M0 0xD2511F53u
#define CYL_PHILOX_M1 0xCD9E8D57u
#define CYL_PHILOX_W0 0x9E3779B9u
#define CYL_PHILOX_W1 0xBB67AE85u

static inline __attribute__((always_inline)) void
cyl_philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                  uint32_t out[4]) {
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)CYL_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)CYL_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += CYL_PHILOX_W0;
        k1 += CYL_PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* keep[j] for elements 4*block .. 4*block+3: random < threshold, threshold = keep_prob * 2^32. */
static inline __attribute__((always_inline)) void
cyl_keep4(uint64_t block, uint64_t seed, uint64_t offset, uint64_t threshold, int keep[4]) {
    uint32_t r[4];
    cyl_philox4x32_10((uint32_t)block, (uint32_t)(block >> 32), (uint32_t)offset,
                      (uint32_t)(offset >> 32), (uint32_t)seed, (uint32_t)(seed >> 32), r);
    for (int j = 0; j < 4; j++) keep[j] = (uint64_t)r[j] < threshold;
}

/* Keep flag of unit u (an element, or a whole channel for feature dropout). */
static inline int cyl_keep_unit(uint64_t u, uint64_t seed, uint64_t offset, uint64_t threshold) {
    int keep[4];
    cyl_keep4(u >> 2, seed, offset, threshold, keep);
    return keep[u & 3];
}

/* out[i] = keep ? x[i] * mul + add : drop_value, for elements [4*b0, min(4*b1, n)). With
 * grad_mode set, x is the incoming gradient and drop_value 0, add 0: the same mask, regenerated. */
#define CYL_DEFINE_MASKED_AFFINE(T, SUFFIX)                                                     \
static inline void cyl_masked_affine_##SUFFIX(const T *x, T *out, int64_t n, int64_t b0,       \
                                              int64_t b1, uint64_t seed, uint64_t offset,       \
                                              uint64_t threshold, T mul, T add, T drop_value) { \
    for (int64_t b = b0; b < b1; b++) {                                                         \
        int keep[4];                                                                            \
        cyl_keep4((uint64_t)b, seed, offset, threshold, keep);                                  \
        int64_t i0 = 4 * b;                                                                     \
        if (i0 + 4 <= n) {                                                                      \
            for (int j = 0; j < 4; j++)                                                         \
                out[i0 + j] = keep[j] ? x[i0 + j] * mul + add : drop_value;                     \
        } else {                                                                                \
            for (int j = 0; i0 + j < n; j++)                                                    \
                out[i0 + j] = keep[j] ? x[i0 + j] * mul + add : drop_value;                     \
        }                                                                                       \
    }                                                                                           \
}

CYL_DEFINE_MASKED_AFFINE(float, f)
CYL_DEFINE_MASKED_AFFINE(double, d)

#endif
