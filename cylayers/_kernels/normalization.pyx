"""Normalization kernels: BatchNorm, InstanceNorm, GroupNorm and LayerNorm.

Every norm sees its input as B contiguous *blocks* of S elements: (sample, channel) planes for
Batch/Instance/GroupNorm, rows for LayerNorm. A block is cut into k equal *tiles* (k > 1 only
when there are fewer blocks than threads), tile t covering block t // k; the prange runs over
tiles, so few huge blocks still use every thread. The inner loops live in
include/cylayers/norm_kernels.h (float64 accumulation, SIMD reductions).

- ``tile_stats``: per-tile mean and M2 = sum (x - mean)^2. Python merges tiles into blocks and
  blocks into groups (Chan's formula for equal counts), so large means keep their variance.
- ``block_affine``: y = (x - center[b]) * scale[b] + shift[b]: normalize, scale and shift in one
  pass (Batch/Instance/GroupNorm).
- ``tile_grad_sums`` / ``block_affine_grad``: backward's two passes. Sums of g and g*(x - center)
  per tile, then dx = ga[b] * g + xa[b] * (x - center[b]) + c0[b], with the per-block
  coefficients derived in Python from the sums. Nothing normalized is ever stored.
- ``channel_stats`` / ``channel_affine`` / ``channel_grad_sums`` / ``channel_affine_grad``:
  the same four steps for BatchNorm with per-channel values (no per-block copies of them): each
  channel's N blocks merged in order by one thread (the sums do not depend on the thread
  count), the elementwise passes over all (sample, channel) blocks.
- ``group_norm_forward`` / ``group_norm_backward``: Group- and InstanceNorm with batch statistics,
  one group per iteration: statistics and affine fused, the group re-read from cache.
- ``layer_norm_forward`` / ``layer_norm_backward``: one row per iteration, statistics fused into
  the forward; backward fuses dx with dgamma/dbeta in per-thread float64 scratch rows.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid

include "sizes.pxi"

cdef extern from "cylayers/norm_kernels.h" nogil:
    void cyl_tile_stats_f(const float* x, Py_ssize_t n, double* mean, double* m2)
    void cyl_tile_stats_d(const double* x, Py_ssize_t n, double* mean, double* m2)
    void cyl_affine_f(const float* x, float* out, Py_ssize_t n, double center, double scale,
                      double shift)
    void cyl_affine_d(const double* x, double* out, Py_ssize_t n, double center, double scale,
                      double shift)
    void cyl_grad_sums_f(const float* g, const float* x, Py_ssize_t n, double center,
                         double* sum_g, double* sum_gxc)
    void cyl_grad_sums_d(const double* g, const double* x, Py_ssize_t n, double center,
                         double* sum_g, double* sum_gxc)
    void cyl_affine_grad_f(const float* g, const float* x, float* dx, Py_ssize_t n,
                           double center, double ga, double xa, double c0)
    void cyl_affine_grad_d(const double* g, const double* x, double* dx, Py_ssize_t n,
                           double center, double ga, double xa, double c0)
    void cyl_layer_norm_row_f(const float* x, const float* gamma, const float* beta, float* out,
                              Py_ssize_t n, double eps, double* mean, double* inv_std)
    void cyl_layer_norm_row_d(const double* x, const double* gamma, const double* beta,
                              double* out, Py_ssize_t n, double eps, double* mean,
                              double* inv_std)
    void cyl_layer_norm_row_backward_f(const float* g, const float* x, const float* gamma,
                                       float* dx, Py_ssize_t n, double mu, double rs,
                                       double* dgamma, double* dbeta)
    void cyl_group_norm_fwd_f(const float* x, float* out, Py_ssize_t cpg, Py_ssize_t plane_len,
                              const float* gamma, const float* beta, double eps, double* mean,
                              double* inv_std)
    void cyl_group_norm_fwd_d(const double* x, double* out, Py_ssize_t cpg, Py_ssize_t plane_len,
                              const double* gamma, const double* beta, double eps, double* mean,
                              double* inv_std)
    void cyl_group_norm_bwd_f(const float* g, const float* x, float* dx, Py_ssize_t cpg,
                              Py_ssize_t plane_len, const float* gamma, double mu, double rs,
                              double* sum_g, double* sum_gxc)
    void cyl_group_norm_bwd_d(const double* g, const double* x, double* dx, Py_ssize_t cpg,
                              Py_ssize_t plane_len, const double* gamma, double mu, double rs,
                              double* sum_g, double* sum_gxc)
    void cyl_layer_norm_row_backward_d(const double* g, const double* x, const double* gamma,
                                       double* dx, Py_ssize_t n, double mu, double rs,
                                       double* dgamma, double* dbeta)


def tile_stats(const floating[::1] x,   # IN  n_tiles tiles of tile_len, contiguous
               double[::1] mean,        # OUT per tile
               double[::1] m2,          # OUT per tile: sum (x - mean)^2
               Py_ssize_t tile_len, int num_threads):
    cdef Py_ssize_t t, n_tiles = mean.shape[0]
    check_counts("tile_stats", (tile_len,))
    check_length("tile_stats", "x", x.shape[0], n_tiles * tile_len)
    check_length("tile_stats", "m2", m2.shape[0], n_tiles)
    if tile_len == 0 or n_tiles == 0:
        return
    for t in prange(n_tiles, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            cyl_tile_stats_f(&x[t * tile_len], tile_len, &mean[t], &m2[t])
        else:
            cyl_tile_stats_d(&x[t * tile_len], tile_len, &mean[t], &m2[t])


def block_affine(const floating[::1] x,       # IN  B blocks of block_len
                 const double[::1] center,    # IN  per block
                 const double[::1] scale,     # IN  per block
                 const double[::1] shift,     # IN  per block
                 floating[::1] out,           # OUT may alias x
                 Py_ssize_t block_len, Py_ssize_t tiles_per_block, int num_threads):
    cdef Py_ssize_t t, b, tile_len, n_tiles = center.shape[0] * tiles_per_block
    cdef Py_ssize_t B = center.shape[0]
    _check_tiles("block_affine", block_len, tiles_per_block)
    check_length("block_affine", "x", x.shape[0], B * block_len)
    check_length("block_affine", "out", out.shape[0], B * block_len)
    check_length("block_affine", "scale", scale.shape[0], B)
    check_length("block_affine", "shift", shift.shape[0], B)
    if block_len == 0 or n_tiles == 0:
        return
    tile_len = block_len // tiles_per_block
    for t in prange(n_tiles, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        b = t // tiles_per_block
        if floating is float:
            cyl_affine_f(&x[t * tile_len], &out[t * tile_len], tile_len, center[b], scale[b],
                         shift[b])
        else:
            cyl_affine_d(&x[t * tile_len], &out[t * tile_len], tile_len, center[b], scale[b],
                         shift[b])


def tile_grad_sums(const floating[::1] grad,   # IN
                   const floating[::1] x,      # IN
                   const double[::1] center,   # IN  per block
                   double[::1] sum_g,          # OUT per tile: sum g
                   double[::1] sum_gxc,        # OUT per tile: sum g * (x - center)
                   Py_ssize_t block_len, Py_ssize_t tiles_per_block, int num_threads):
    cdef Py_ssize_t t, tile_len, n_tiles = sum_g.shape[0], B = center.shape[0]
    _check_tiles("tile_grad_sums", block_len, tiles_per_block)
    check_length("tile_grad_sums", "grad", grad.shape[0], B * block_len)
    check_length("tile_grad_sums", "x", x.shape[0], B * block_len)
    check_length("tile_grad_sums", "sum_g", n_tiles, B * tiles_per_block)
    check_length("tile_grad_sums", "sum_gxc", sum_gxc.shape[0], B * tiles_per_block)
    if block_len == 0 or n_tiles == 0:
        return
    tile_len = block_len // tiles_per_block
    for t in prange(n_tiles, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            cyl_grad_sums_f(&grad[t * tile_len], &x[t * tile_len], tile_len,
                            center[t // tiles_per_block], &sum_g[t], &sum_gxc[t])
        else:
            cyl_grad_sums_d(&grad[t * tile_len], &x[t * tile_len], tile_len,
                            center[t // tiles_per_block], &sum_g[t], &sum_gxc[t])


def block_affine_grad(const floating[::1] grad,  # IN
                      const floating[::1] x,     # IN
                      const double[::1] center,  # IN  per block
                      const double[::1] ga,      # IN  per block: coefficient of g
                      const double[::1] xa,      # IN  per block: coefficient of (x - center)
                      const double[::1] c0,      # IN  per block: constant
                      floating[::1] grad_in,     # OUT
                      Py_ssize_t block_len, Py_ssize_t tiles_per_block, int num_threads):
    cdef Py_ssize_t t, b, o, tile_len, n_tiles = center.shape[0] * tiles_per_block
    cdef Py_ssize_t B = center.shape[0]
    _check_tiles("block_affine_grad", block_len, tiles_per_block)
    for name, have in (("grad", grad.shape[0]), ("x", x.shape[0]),
                       ("grad_in", grad_in.shape[0])):
        check_length("block_affine_grad", name, have, B * block_len)
    for name, have in (("ga", ga.shape[0]), ("xa", xa.shape[0]), ("c0", c0.shape[0])):
        check_length("block_affine_grad", name, have, B)
    if block_len == 0 or n_tiles == 0:
        return
    tile_len = block_len // tiles_per_block
    for t in prange(n_tiles, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        b = t // tiles_per_block
        o = t * tile_len
        if floating is float:
            cyl_affine_grad_f(&grad[o], &x[o], &grad_in[o], tile_len, center[b], ga[b], xa[b],
                              c0[b])
        else:
            cyl_affine_grad_d(&grad[o], &x[o], &grad_in[o], tile_len, center[b], ga[b], xa[b],
                              c0[b])


cdef enum:
    COLUMNS = 256  # columns per task of the column kernels


cdef _check_tiles(str kernel, Py_ssize_t block_len, Py_ssize_t tiles_per_block):
    if block_len < 0 or tiles_per_block < 1 or block_len % tiles_per_block:
        raise ValueError(f"{kernel}: blocks of {block_len} do not cut into {tiles_per_block} "
                         f"equal tiles")


cdef _check_groups(str kernel, Py_ssize_t n_groups, Py_ssize_t num_groups, Py_ssize_t cpg,
                   Py_ssize_t plane_len, Py_ssize_t gamma_len):
    check_counts(kernel, (cpg, plane_len))
    if n_groups and (num_groups < 1 or n_groups % num_groups):
        raise ValueError(f"{kernel}: {n_groups} (sample, group) pairs are not samples of "
                         f"{num_groups} groups")
    if gamma_len:
        check_length(kernel, "gamma", gamma_len, num_groups * cpg)


cdef _check_channels(Py_ssize_t x_len, Py_ssize_t n_channel_values, Py_ssize_t N, Py_ssize_t C,
                     Py_ssize_t L, str name):
    if x_len != N * C * L or n_channel_values != C:
        raise ValueError(f"{name}: array sizes do not match (N, C, L) = ({N}, {C}, {L})")


def channel_stats(const floating[::1] x,   # IN  (N, C, L)
                  double[::1] mean,        # OUT (C,)
                  double[::1] m2,          # OUT (C,): sum (x - mean)^2 over N and L
                  Py_ssize_t N, Py_ssize_t C, Py_ssize_t L, int num_threads):
    cdef Py_ssize_t ch, n
    cdef double block_mean, block_m2, mu, acc, delta
    _check_channels(x.shape[0], mean.shape[0], N, C, L, "channel_stats")
    if m2.shape[0] != C:
        raise ValueError("channel_stats: array sizes do not match")
    for ch in prange(C, nogil=True, schedule='static', num_threads=num_threads,
                     use_threads_if=num_threads > 1):
        mu = 0
        acc = 0
        for n in range(N):
            block_mean = 0
            block_m2 = 0
            if floating is float:
                cyl_tile_stats_f(&x[0] + (n * C + ch) * L, L, &block_mean, &block_m2)
            else:
                cyl_tile_stats_d(&x[0] + (n * C + ch) * L, L, &block_mean, &block_m2)
            # Chan et al. for n blocks so far and one more, all of L elements
            delta = block_mean - mu
            mu = mu + delta / (n + 1)
            acc = acc + block_m2 + delta * delta * L * n / (n + 1)
        mean[ch] = mu
        m2[ch] = acc


def channel_affine(const floating[::1] x,      # IN  (N, C, L)
                   const double[::1] center,   # IN  (C,)
                   const double[::1] scale,    # IN  (C,)
                   const double[::1] shift,    # IN  (C,)
                   floating[::1] out,          # OUT (N, C, L)
                   Py_ssize_t N, Py_ssize_t C, Py_ssize_t L, int num_threads):
    cdef Py_ssize_t p, ch
    _check_channels(x.shape[0], center.shape[0], N, C, L, "channel_affine")
    if out.shape[0] != x.shape[0] or scale.shape[0] != C or shift.shape[0] != C:
        raise ValueError("channel_affine: array sizes do not match")
    for p in prange(N * C, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        ch = p % C
        if floating is float:
            cyl_affine_f(&x[0] + p * L, &out[0] + p * L, L, center[ch], scale[ch], shift[ch])
        else:
            cyl_affine_d(&x[0] + p * L, &out[0] + p * L, L, center[ch], scale[ch], shift[ch])


def channel_grad_sums(const floating[::1] grad,   # IN  (N, C, L)
                      const floating[::1] x,      # IN  (N, C, L)
                      const double[::1] center,   # IN  (C,)
                      double[::1] sum_g,          # OUT (C,): sum g
                      double[::1] sum_gxc,        # OUT (C,): sum g * (x - center)
                      Py_ssize_t N, Py_ssize_t C, Py_ssize_t L, int num_threads):
    cdef Py_ssize_t ch, n
    cdef double sg, sgx, block_g, block_gx
    _check_channels(x.shape[0], center.shape[0], N, C, L, "channel_grad_sums")
    if grad.shape[0] != x.shape[0] or sum_g.shape[0] != C or sum_gxc.shape[0] != C:
        raise ValueError("channel_grad_sums: array sizes do not match")
    for ch in prange(C, nogil=True, schedule='static', num_threads=num_threads,
                     use_threads_if=num_threads > 1):
        sg = 0
        sgx = 0
        for n in range(N):
            block_g = 0
            block_gx = 0
            if floating is float:
                cyl_grad_sums_f(&grad[0] + (n * C + ch) * L, &x[0] + (n * C + ch) * L, L,
                                center[ch], &block_g, &block_gx)
            else:
                cyl_grad_sums_d(&grad[0] + (n * C + ch) * L, &x[0] + (n * C + ch) * L, L,
                                center[ch], &block_g, &block_gx)
            sg = sg + block_g
            sgx = sgx + block_gx
        sum_g[ch] = sg
        sum_gxc[ch] = sgx


def channel_affine_grad(const floating[::1] grad,  # IN  (N, C, L)
                        const floating[::1] x,     # IN  (N, C, L)
                        const double[::1] center,  # IN  (C,)
                        const double[::1] ga,      # IN  (C,): coefficient of g
                        const double[::1] xa,      # IN  (C,): coefficient of (x - center)
                        const double[::1] c0,      # IN  (C,): constant
                        floating[::1] grad_in,     # OUT (N, C, L)
                        Py_ssize_t N, Py_ssize_t C, Py_ssize_t L, int num_threads):
    cdef Py_ssize_t p, ch
    _check_channels(x.shape[0], center.shape[0], N, C, L, "channel_affine_grad")
    if grad.shape[0] != x.shape[0] or grad_in.shape[0] != x.shape[0] or ga.shape[0] != C \
            or xa.shape[0] != C or c0.shape[0] != C:
        raise ValueError("channel_affine_grad: array sizes do not match")
    for p in prange(N * C, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        ch = p % C
        if floating is float:
            cyl_affine_grad_f(&grad[0] + p * L, &x[0] + p * L, &grad_in[0] + p * L, L,
                              center[ch], ga[ch], xa[ch], c0[ch])
        else:
            cyl_affine_grad_d(&grad[0] + p * L, &x[0] + p * L, &grad_in[0] + p * L, L,
                              center[ch], ga[ch], xa[ch], c0[ch])


# BatchNorm of small (sample, channel) blocks (a 2-D input: blocks of one element) as N rows of
# K = C * L columns, with one value per column: every loop runs along a row, so it vectorizes
# across the columns, where the per-block kernels made one call per element.
def column_stats(const floating[::1] x,  # IN  (N, K)
                 double[::1] mean,       # OUT (K,)
                 double[::1] m2,         # OUT (K,): sum over the rows of (x - mean)^2
                 Py_ssize_t N, Py_ssize_t K, int num_threads):
    cdef Py_ssize_t blk, k0, k1
    if x.shape[0] != N * K or mean.shape[0] != K or m2.shape[0] != K:
        raise ValueError("column_stats: array sizes do not match")
    if N * K == 0:
        mean[:] = 0
        m2[:] = 0
        return
    for blk in prange((K + COLUMNS - 1) // COLUMNS, nogil=True, schedule='static',
                      num_threads=num_threads, use_threads_if=num_threads > 1):
        k0 = blk * COLUMNS
        k1 = k0 + COLUMNS if k0 + COLUMNS < K else K
        _column_stats(&x[0], &mean[0], &m2[0], N, K, k0, k1)


cdef void _column_stats(const floating* x, double* mean, double* m2, Py_ssize_t N,
                        Py_ssize_t K, Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """Two passes down columns k0 .. k1 (a few hundred KiB at most: the second from cache)."""
    cdef Py_ssize_t n, k
    cdef double d
    for k in range(k0, k1):
        mean[k] = 0
        m2[k] = 0
    for n in range(N):
        for k in range(k0, k1):
            mean[k] += x[n * K + k]
    for k in range(k0, k1):
        mean[k] /= N
    for n in range(N):
        for k in range(k0, k1):
            d = x[n * K + k] - mean[k]
            m2[k] += d * d


def column_affine(const floating[::1] x,      # IN  (N, K)
                  const double[::1] center,   # IN  (K,)
                  const double[::1] scale,    # IN  (K,)
                  const double[::1] shift,    # IN  (K,)
                  floating[::1] out,          # OUT (N, K)
                  Py_ssize_t N, Py_ssize_t K, int num_threads):
    cdef Py_ssize_t n, k
    if x.shape[0] != N * K or out.shape[0] != N * K or center.shape[0] != K \
            or scale.shape[0] != K or shift.shape[0] != K:
        raise ValueError("column_affine: array sizes do not match")
    for n in prange(N, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        for k in range(K):
            out[n * K + k] = <floating>((x[n * K + k] - center[k]) * scale[k] + shift[k])


def column_grad_sums(const floating[::1] grad,   # IN  (N, K)
                     const floating[::1] x,      # IN  (N, K)
                     const double[::1] center,   # IN  (K,)
                     double[::1] sum_g,          # OUT (K,)
                     double[::1] sum_gxc,        # OUT (K,): sum g * (x - center)
                     Py_ssize_t N, Py_ssize_t K, int num_threads):
    cdef Py_ssize_t blk, k0, k1
    if x.shape[0] != N * K or grad.shape[0] != N * K or center.shape[0] != K \
            or sum_g.shape[0] != K or sum_gxc.shape[0] != K:
        raise ValueError("column_grad_sums: array sizes do not match")
    if N * K == 0:
        sum_g[:] = 0
        sum_gxc[:] = 0
        return
    for blk in prange((K + COLUMNS - 1) // COLUMNS, nogil=True, schedule='static',
                      num_threads=num_threads, use_threads_if=num_threads > 1):
        k0 = blk * COLUMNS
        k1 = k0 + COLUMNS if k0 + COLUMNS < K else K
        _column_grad_sums(&grad[0], &x[0], &center[0], &sum_g[0], &sum_gxc[0], N, K, k0, k1)


cdef void _column_grad_sums(const floating* g, const floating* x, const double* center,
                            double* sum_g, double* sum_gxc, Py_ssize_t N, Py_ssize_t K,
                            Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    cdef Py_ssize_t n, k
    for k in range(k0, k1):
        sum_g[k] = 0
        sum_gxc[k] = 0
    for n in range(N):
        for k in range(k0, k1):
            sum_g[k] += g[n * K + k]
            sum_gxc[k] += g[n * K + k] * (x[n * K + k] - center[k])


def column_affine_grad(const floating[::1] grad,  # IN  (N, K)
                       const floating[::1] x,     # IN  (N, K)
                       const double[::1] center,  # IN  (K,)
                       const double[::1] ga,      # IN  (K,): coefficient of g
                       const double[::1] xa,      # IN  (K,): coefficient of (x - center)
                       const double[::1] c0,      # IN  (K,): constant
                       floating[::1] grad_in,     # OUT (N, K)
                       Py_ssize_t N, Py_ssize_t K, int num_threads):
    cdef Py_ssize_t n, k
    if x.shape[0] != N * K or grad.shape[0] != N * K or grad_in.shape[0] != N * K \
            or center.shape[0] != K or ga.shape[0] != K or xa.shape[0] != K \
            or c0.shape[0] != K:
        raise ValueError("column_affine_grad: array sizes do not match")
    for n in prange(N, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        for k in range(K):
            grad_in[n * K + k] = <floating>(ga[k] * grad[n * K + k]
                                            + xa[k] * (x[n * K + k] - center[k]) + c0[k])


cdef inline void layer_norm_row(const floating* x, const floating* gamma, const floating* beta,
                                floating* out, Py_ssize_t n, double eps, double* mean,
                                double* inv_std) noexcept nogil:
    if floating is float:
        cyl_layer_norm_row_f(x, gamma, beta, out, n, eps, mean, inv_std)
    else:
        cyl_layer_norm_row_d(x, gamma, beta, out, n, eps, mean, inv_std)


cdef inline void layer_norm_row_backward(const floating* g, const floating* x,
                                         const floating* gamma, floating* gx, Py_ssize_t n,
                                         double mean, double inv_std, double* dgamma,
                                         double* dbeta) noexcept nogil:
    if floating is float:
        cyl_layer_norm_row_backward_f(g, x, gamma, gx, n, mean, inv_std, dgamma, dbeta)
    else:
        cyl_layer_norm_row_backward_d(g, x, gamma, gx, n, mean, inv_std, dgamma, dbeta)


def layer_norm_forward(const floating[::1] x,       # IN  n_rows rows of row_len
                       const floating[::1] gamma,   # IN  (row_len,) or empty for no weight
                       const floating[::1] beta,    # IN  (row_len,) or empty for no bias
                       floating[::1] out,           # OUT
                       double[::1] mean,            # OUT per row
                       double[::1] inv_std,         # OUT per row
                       Py_ssize_t row_len, double eps, int num_threads):
    cdef Py_ssize_t r, n_rows = mean.shape[0]
    cdef const floating* g = &gamma[0] if gamma.shape[0] > 0 else NULL
    cdef const floating* b = &beta[0] if beta.shape[0] > 0 else NULL
    if (x.shape[0] != n_rows * row_len or out.shape[0] != x.shape[0]
            or inv_std.shape[0] != n_rows or gamma.shape[0] not in (0, row_len)
            or beta.shape[0] not in (0, row_len)):
        raise ValueError("layer_norm_forward: array sizes do not match the rows")
    if row_len == 0 or n_rows == 0:
        return
    if num_threads == 1:
        with nogil:
            for r in range(n_rows):
                layer_norm_row(&x[r * row_len], g, b, &out[r * row_len], row_len, eps,
                               &mean[r], &inv_std[r])
        return
    for r in prange(n_rows, nogil=True, schedule='static', num_threads=num_threads):
        layer_norm_row(&x[r * row_len], g, b, &out[r * row_len], row_len, eps, &mean[r],
                       &inv_std[r])


def layer_norm_backward(const floating[::1] grad,     # IN  n_rows rows of row_len
                        const floating[::1] x,        # IN
                        const floating[::1] gamma,    # IN  (row_len,) or empty
                        const double[::1] mean,       # IN  per row
                        const double[::1] inv_std,    # IN  per row
                        floating[::1] grad_in,        # OUT (empty when not needed)
                        double[:, ::1] dgamma_part,   # OUT (threads, row_len), zeroed
                        double[:, ::1] dbeta_part,    # OUT (threads, row_len), zeroed
                        Py_ssize_t row_len, int num_threads):
    """dx = inv_std * (g*gamma - mean(g*gamma) - xhat * mean(g*gamma*xhat)), fused with the
    per-thread dgamma = sum_rows g*xhat and dbeta = sum_rows g."""
    cdef Py_ssize_t r, n_rows = mean.shape[0]
    cdef const floating* gm = &gamma[0] if gamma.shape[0] > 0 else NULL
    cdef bint want_dx = grad_in.shape[0] > 0
    cdef int tid
    if (grad.shape[0] != n_rows * row_len or x.shape[0] != grad.shape[0]
            or inv_std.shape[0] != n_rows or gamma.shape[0] not in (0, row_len)
            or (want_dx and grad_in.shape[0] != grad.shape[0])
            or dgamma_part.shape[0] < num_threads or dgamma_part.shape[1] < row_len
            or dbeta_part.shape[0] < num_threads or dbeta_part.shape[1] < row_len):
        raise ValueError("layer_norm_backward: array sizes do not match the rows")
    if row_len == 0 or n_rows == 0:
        return
    if num_threads == 1:
        with nogil:
            for r in range(n_rows):
                layer_norm_row_backward(&grad[r * row_len], &x[r * row_len], gm,
                                        &grad_in[r * row_len] if want_dx else NULL, row_len,
                                        mean[r], inv_std[r], &dgamma_part[0, 0],
                                        &dbeta_part[0, 0])
        return
    for r in prange(n_rows, nogil=True, schedule='static', num_threads=num_threads):
        tid = threadid()
        layer_norm_row_backward(&grad[r * row_len], &x[r * row_len], gm,
                                &grad_in[r * row_len] if want_dx else NULL, row_len, mean[r],
                                inv_std[r], &dgamma_part[tid, 0], &dbeta_part[tid, 0])


def group_norm_forward(const floating[::1] x,       # IN  (N, G, cpg, plane_len) flattened
                       const floating[::1] gamma,   # IN  (G * cpg,) or empty
                       const floating[::1] beta,    # IN  (G * cpg,) or empty
                       floating[::1] out,           # OUT
                       double[::1] mean,            # OUT per (n, g)
                       double[::1] inv_std,         # OUT per (n, g)
                       Py_ssize_t num_groups, Py_ssize_t cpg, Py_ssize_t plane_len, double eps,
                       int num_threads):
    """Group/InstanceNorm with batch statistics, one group per iteration (fused stats + affine)."""
    cdef Py_ssize_t grp, o, cofs, n_groups = mean.shape[0], group_len = cpg * plane_len
    cdef bint has_g = gamma.shape[0] > 0, has_b = beta.shape[0] > 0
    _check_groups("group_norm_forward", n_groups, num_groups, cpg, plane_len, gamma.shape[0])
    check_length("group_norm_forward", "x", x.shape[0], n_groups * group_len)
    check_length("group_norm_forward", "out", out.shape[0], n_groups * group_len)
    check_length("group_norm_forward", "inv_std", inv_std.shape[0], n_groups)
    if has_b:
        check_length("group_norm_forward", "beta", beta.shape[0], num_groups * cpg)
    if group_len == 0 or n_groups == 0:
        return
    for grp in prange(n_groups, nogil=True, schedule='static', num_threads=num_threads,
                      use_threads_if=num_threads > 1):
        o = grp * group_len
        cofs = (grp % num_groups) * cpg
        if floating is float:
            cyl_group_norm_fwd_f(&x[o], &out[o], cpg, plane_len,
                                 &gamma[cofs] if has_g else NULL, &beta[cofs] if has_b else NULL,
                                 eps, &mean[grp], &inv_std[grp])
        else:
            cyl_group_norm_fwd_d(&x[o], &out[o], cpg, plane_len,
                                 &gamma[cofs] if has_g else NULL, &beta[cofs] if has_b else NULL,
                                 eps, &mean[grp], &inv_std[grp])


def group_norm_backward(const floating[::1] grad,    # IN
                        const floating[::1] x,       # IN
                        const floating[::1] gamma,   # IN  (G * cpg,) or empty
                        const double[::1] mean,      # IN  per (n, g)
                        const double[::1] inv_std,   # IN  per (n, g)
                        floating[::1] grad_in,       # OUT (empty when not needed)
                        double[::1] sum_g,           # OUT per (n, c)
                        double[::1] sum_gxc,         # OUT per (n, c): sum g * (x - mean)
                        Py_ssize_t num_groups, Py_ssize_t cpg, Py_ssize_t plane_len,
                        int num_threads):
    cdef Py_ssize_t grp, o, cofs, n_groups = mean.shape[0], group_len = cpg * plane_len
    cdef bint has_g = gamma.shape[0] > 0, want_dx = grad_in.shape[0] > 0
    _check_groups("group_norm_backward", n_groups, num_groups, cpg, plane_len, gamma.shape[0])
    check_length("group_norm_backward", "grad", grad.shape[0], n_groups * group_len)
    check_length("group_norm_backward", "x", x.shape[0], n_groups * group_len)
    check_length("group_norm_backward", "inv_std", inv_std.shape[0], n_groups)
    if want_dx:
        check_length("group_norm_backward", "grad_in", grad_in.shape[0], n_groups * group_len)
    check_length("group_norm_backward", "sum_g", sum_g.shape[0], n_groups * cpg)
    check_length("group_norm_backward", "sum_gxc", sum_gxc.shape[0], n_groups * cpg)
    if group_len == 0 or n_groups == 0:
        return
    for grp in prange(n_groups, nogil=True, schedule='static', num_threads=num_threads,
                      use_threads_if=num_threads > 1):
        o = grp * group_len
        cofs = (grp % num_groups) * cpg
        if floating is float:
            cyl_group_norm_bwd_f(&grad[o], &x[o], &grad_in[o] if want_dx else NULL, cpg,
                                 plane_len, &gamma[cofs] if has_g else NULL, mean[grp],
                                 inv_std[grp], &sum_g[grp * cpg], &sum_gxc[grp * cpg])
        else:
            cyl_group_norm_bwd_d(&grad[o], &x[o], &grad_in[o] if want_dx else NULL, cpg,
                                 plane_len, &gamma[cofs] if has_g else NULL, mean[grp],
                                 inv_std[grp], &sum_g[grp * cpg], &sum_gxc[grp * cpg])
