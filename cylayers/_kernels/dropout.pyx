"""Dropout-family kernels on a counter-based RNG (include/cylayers/philox.h.tp).

One kernel serves Dropout, Dropout1d/2d/3d, AlphaDropout and FeatureAlphaDropout, forward and
backward: out = x * (keep ? mul : 0) + (keep ? add : drop_add), where a unit u is kept when its
32-bit Philox uniform for (seed, offset, u) is below keep_prob * 2^32 (four units per Philox
call). A unit is an element (inner == 1) or a whole (sample, channel) row of ``inner`` elements.
Backward calls it on the gradient with add = drop_add = 0 and the forward's (seed, offset): the
mask is regenerated, never stored. Dropped elements are x * 0 + drop_add, so a dropped inf becomes
NaN exactly as in PyTorch's ``input * mask``.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uint32_t, uint64_t, int64_t

cdef extern from "cylayers/philox.h" nogil:
    int CYL_UNITS_PER_BLOCK
    int cyl_keep_unit(uint64_t u, uint64_t seed, uint64_t offset, uint32_t threshold)
    void cyl_masked_affine_f(const float* x, float* out, int64_t n, int64_t b0, int64_t b1,
                             uint64_t seed, uint64_t offset, uint32_t threshold, float mul,
                             float add, float drop_add)
    void cyl_masked_affine_d(const double* x, double* out, int64_t n, int64_t b0, int64_t b1,
                             uint64_t seed, uint64_t offset, uint32_t threshold, double mul,
                             double add, double drop_add)

include "sizes.pxi"

cdef enum:
    # Philox blocks (4 elements each) handed to a thread at a time.
    CHUNK_BLOCKS = 2048


def masked_affine(const floating[::1] x,   # IN  input (forward) or incoming gradient (backward)
                  floating[::1] out,       # OUT may alias x (in place)
                  uint64_t seed, uint64_t offset, uint32_t threshold,
                  double mul, double add, double drop_add,
                  Py_ssize_t inner, int num_threads):
    cdef int64_t n = x.shape[0]
    cdef int64_t n_blocks, n_chunks, c, b0, b1, row, k, base, n_rows
    cdef floating fmul = <floating>mul, fadd = <floating>add, fdrop = <floating>drop_add
    cdef floating keep_mul, keep_add
    cdef bint keep
    check_length("masked_affine", "out", out.shape[0], n)
    if n == 0:
        return
    if inner < 1 or n % inner:
        raise ValueError(f"masked_affine: {n} elements are not rows of inner={inner}")
    if inner == 1:
        n_blocks = (n + CYL_UNITS_PER_BLOCK - 1) // CYL_UNITS_PER_BLOCK
        n_chunks = (n_blocks + CHUNK_BLOCKS - 1) // CHUNK_BLOCKS
        for c in prange(n_chunks, nogil=True, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1):
            b0 = c * CHUNK_BLOCKS
            b1 = b0 + CHUNK_BLOCKS
            if b1 > n_blocks:
                b1 = n_blocks
            if floating is float:
                cyl_masked_affine_f(&x[0], &out[0], n, b0, b1, seed, offset, threshold,
                                    fmul, fadd, fdrop)
            else:
                cyl_masked_affine_d(&x[0], &out[0], n, b0, b1, seed, offset, threshold,
                                    fmul, fadd, fdrop)
        return
    n_rows = n // inner
    for row in prange(n_rows, nogil=True, schedule='static', num_threads=num_threads,
                      use_threads_if=num_threads > 1):
        keep = cyl_keep_unit(<uint64_t>row, seed, offset, threshold)
        keep_mul = fmul if keep else 0
        keep_add = fadd if keep else fdrop
        base = row * inner
        for k in range(inner):
            out[base + k] = x[base + k] * keep_mul + keep_add


def keep_mask(uint64_t n_units, uint64_t seed, uint64_t offset, uint32_t threshold,
              unsigned char[::1] out):  # OUT one flag per unit (for tests and inspection)
    cdef uint64_t u
    check_length("keep_mask", "out", out.shape[0], <Py_ssize_t>n_units)
    for u in range(n_units):
        out[u] = cyl_keep_unit(u, seed, offset, threshold)
