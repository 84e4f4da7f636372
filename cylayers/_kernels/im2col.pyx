"""im2col / col2im for 1-, 2- and 3-D convolutions (vol2col: 1-D and 2-D are 3-D with unit
depth and height), so a convolution becomes a GEMM (cylayers._kernels.gemm), and the moves
between the GEMM's layout and the images'.

cols holds the batch in blocks of B images: (N / B, C, kd, kh, kw, B, oD, oH, oW). Row
(c, a, b, e) of a block holds, for every sample of the block and output position, the input
element that kernel tap (a, b, e) of channel c meets (0 in the padding). B = 1 is PyTorch's
unfold layout, and each image's product (out, C*taps) x (C*taps, L) lands in the output as it
is; B = N makes one wide product per group for small images, whose outputs are then moved
back to (N, out, L) (columns_to_images). Both kernels run one (sample, channel) plane per
iteration, so col2im's scatter-add never races. In col2im the width positions whose input falls
inside the image are computed once per tap (cyl_first_inside / cyl_end_inside in
include/cylayers/window.h), so its inner loop is a plain add with no test per element (measured
1.2x faster; for im2col's copy the per-element test measured faster on short rows, so it
stays).
"""
from cython cimport floating
from cython.parallel cimport prange


cdef extern from "cylayers/window.h" nogil:
    Py_ssize_t cyl_window_index(Py_ssize_t o, Py_ssize_t stride, Py_ssize_t pad,
                                Py_ssize_t offset)
    bint cyl_inside(Py_ssize_t index, Py_ssize_t size)
    Py_ssize_t cyl_first_inside(Py_ssize_t out, Py_ssize_t stride, Py_ssize_t pad,
                                Py_ssize_t offset)
    Py_ssize_t cyl_end_inside(Py_ssize_t size, Py_ssize_t out, Py_ssize_t stride,
                              Py_ssize_t pad, Py_ssize_t offset)


cdef extern from "cylayers/row_kernels.h" nogil:
    double cyl_sum_as_double_f(const float* v, Py_ssize_t n)
    double cyl_sum_as_double_d(const double* v, Py_ssize_t n)


cdef inline Py_ssize_t _column_start(Py_ssize_t p, Py_ssize_t C, Py_ssize_t taps,
                                     Py_ssize_t row, Py_ssize_t B, Py_ssize_t L) noexcept nogil:
    """Where plane p = (n, c)'s tap row starts in cols: block n // B, row (c, tap), slot n % B."""
    return ((((p // C) // B * C + p % C) * taps + row) * B + (p // C) % B) * L


cdef _check_sizes(Py_ssize_t x_len, Py_ssize_t cols_len, Py_ssize_t N, Py_ssize_t C,
                  Py_ssize_t plane, Py_ssize_t taps, Py_ssize_t L, Py_ssize_t B, str name):
    if B < 1 or N % B:
        raise ValueError(f"{name}: the block of {B} images does not divide the batch of {N}")
    if x_len != N * C * plane or cols_len != N * C * taps * L:
        raise ValueError(f"{name}: array sizes do not match the geometry")


def im2col(const floating[::1] x,      # IN  (N, C, D, H, W)
           floating[::1] cols,         # OUT (N / B, C, kd, kh, kw, B, oD, oH, oW)
           Py_ssize_t N, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
           Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
           Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
           Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
           Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW, Py_ssize_t B, int num_threads):
    cdef Py_ssize_t p, a, b, e, od, oh, ow, idd, ih, iw, xbase, cbase, row, src, dst
    cdef Py_ssize_t L = oD * oH * oW
    cdef Py_ssize_t plane = D * H * W, taps = kd * kh * kw, n_planes = N * C
    _check_sizes(x.shape[0], cols.shape[0], N, C, plane, taps, L, B, "im2col")
    for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        xbase = p * plane
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = (a * kh + b) * kw + e
                    cbase = _column_start(p, C, taps, row, B, L)
                    for od in range(oD):
                        idd = cyl_window_index(od, sd, pd, a * dd)
                        for oh in range(oH):
                            ih = cyl_window_index(oh, sh, ph, b * dh)
                            dst = cbase + (od * oH + oh) * oW
                            if not (cyl_inside(idd, D) and cyl_inside(ih, H)):
                                for ow in range(oW):
                                    cols[dst + ow] = 0
                            else:
                                # a test per element: for the short rows of small images
                                # this measured faster than splitting the row in three loops
                                src = xbase + (idd * H + ih) * W
                                for ow in range(oW):
                                    iw = cyl_window_index(ow, sw, pw, e * dw)
                                    if cyl_inside(iw, W):
                                        cols[dst + ow] = x[src + iw]
                                    else:
                                        cols[dst + ow] = 0


def col2im(const floating[::1] cols,   # IN  (N / B, C, kd, kh, kw, B, oD, oH, oW)
           floating[::1] dx,           # OUT (N, C, D, H, W), overwritten
           Py_ssize_t N, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
           Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
           Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
           Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
           Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW, Py_ssize_t B, int num_threads):
    cdef Py_ssize_t p, i, a, b, e, od, oh, ow, idd, ih, xbase, cbase, row, src, dst, lo, hi
    cdef Py_ssize_t L = oD * oH * oW
    cdef Py_ssize_t plane = D * H * W, taps = kd * kh * kw, n_planes = N * C
    _check_sizes(dx.shape[0], cols.shape[0], N, C, plane, taps, L, B, "col2im")
    for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        xbase = p * plane
        for i in range(plane):
            dx[xbase + i] = 0
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = (a * kh + b) * kw + e
                    cbase = _column_start(p, C, taps, row, B, L)
                    # Width positions whose input is inside the image: no test per element.
                    lo = cyl_first_inside(oW, sw, pw, e * dw)
                    hi = cyl_end_inside(W, oW, sw, pw, e * dw)
                    if hi < lo:
                        hi = lo
                    for od in range(oD):
                        idd = cyl_window_index(od, sd, pd, a * dd)
                        if not cyl_inside(idd, D):
                            continue
                        for oh in range(oH):
                            ih = cyl_window_index(oh, sh, ph, b * dh)
                            if not cyl_inside(ih, H):
                                continue
                            src = cbase + (od * oH + oh) * oW
                            dst = xbase + (idd * H + ih) * W - pw + e * dw
                            if sw == 1:
                                for ow in range(lo, hi):
                                    dx[dst + ow] += cols[src + ow]
                            else:
                                for ow in range(lo, hi):
                                    dx[dst + ow * sw] += cols[src + ow]


def columns_to_images(const floating[::1] prod,  # IN  (N / B, O, B, L): each block's products
                      const floating[::1] bias,  # IN  (O,), or empty for no bias
                      floating[::1] out,         # OUT (N, O, L); may be prod itself when B == 1
                      Py_ssize_t N, Py_ssize_t O, Py_ssize_t L, Py_ssize_t B,
                      int num_threads):
    """The products of a block of B images back to image order, plus the bias per channel."""
    cdef Py_ssize_t p, i, src, dst
    cdef floating shift
    cdef bint has_bias = bias.shape[0] != 0
    if B < 1 or N % B or prod.shape[0] != N * O * L or out.shape[0] != N * O * L \
            or (has_bias and bias.shape[0] != O):
        raise ValueError("columns_to_images: array sizes do not match the geometry")
    for p in prange(N * O, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        src = _column_start(p, O, 1, 0, B, L)  # plane p's row in its block
        dst = p * L
        shift = bias[p % O] if has_bias else 0
        for i in range(L):
            out[dst + i] = prod[src + i] + shift


def images_to_columns(const floating[::1] g,  # IN  (N, O, L)
                      floating[::1] out,      # OUT (N / B, O, B, L): the blocks' layout
                      Py_ssize_t N, Py_ssize_t O, Py_ssize_t L, Py_ssize_t B,
                      int num_threads):
    """The inverse move of columns_to_images (without the bias), for the output's gradient."""
    cdef Py_ssize_t p, i, src, dst
    if B < 1 or N % B or g.shape[0] != N * O * L or out.shape[0] != N * O * L:
        raise ValueError("images_to_columns: array sizes do not match the geometry")
    for p in prange(N * O, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        src = p * L
        dst = _column_start(p, O, 1, 0, B, L)
        for i in range(L):
            out[dst + i] = g[src + i]


def channel_sums(const floating[::1] g,  # IN  (N, O, L)
                 double[::1] out,        # OUT (O,): the sum over N and L of each channel
                 Py_ssize_t N, Py_ssize_t O, Py_ssize_t L, int num_threads):
    """A convolution's bias gradient, in float64, each channel summed by one thread in the same
    order whatever the thread count."""
    cdef Py_ssize_t o, n
    cdef double s
    if g.shape[0] != N * O * L or out.shape[0] != O:
        raise ValueError("channel_sums: array sizes do not match the geometry")
    if N * L == 0:
        out[:] = 0
        return
    for o in prange(O, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        s = 0
        for n in range(N):
            if floating is float:
                s = s + cyl_sum_as_double_f(&g[0] + (n * O + o) * L, L)
            else:
                s = s + cyl_sum_as_double_d(&g[0] + (n * O + o) * L, L)
        out[o] = s


# Columns per task of column_sums: their float64 sums (2 KB) stay in L1 while the rows stream.
cdef enum:
    COLUMN_CHUNK = 256


def column_sums(const floating[::1] g,  # IN  (rows, cols)
                double[::1] out,        # OUT (cols,): each column's sum over the rows
                Py_ssize_t rows, Py_ssize_t cols, int num_threads):
    """A bias gradient of a linear layer or a broadcast add (the rows of g are its samples),
    in float64: each column summed over the rows in order by one thread, whatever the thread
    count. Threads take blocks of COLUMN_CHUNK columns; each row's block is read contiguously."""
    cdef Py_ssize_t chunk, start, stop, i, j
    cdef Py_ssize_t n_chunks = (cols + COLUMN_CHUNK - 1) // COLUMN_CHUNK
    if g.shape[0] != rows * cols or out.shape[0] != cols:
        raise ValueError("column_sums: array sizes do not match the geometry")
    out[:] = 0
    for chunk in prange(n_chunks, nogil=True, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1 and n_chunks > 1):
        start = chunk * COLUMN_CHUNK
        stop = start + COLUMN_CHUNK
        if stop > cols:
            stop = cols
        for i in range(rows):
            for j in range(start, stop):
                out[j] += g[i * cols + j]
