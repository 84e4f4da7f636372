"""im2col / col2im for 1-, 2- and 3-D convolutions (vol2col: 1-D and 2-D are 3-D with unit
depth and height), so a convolution becomes a GEMM (cylayers._kernels.gemm).

cols has layout (C, kd, kh, kw, N, oD, oH, oW): row (c, a, b, e) holds, for every sample and
output position, the input element that kernel tap (a, b, e) of channel c meets (0 in the
padding). With the batch inside the columns, a convolution is one GEMM per group of shape
(out, C*taps) x (C*taps, N*L) instead of N small ones. Both kernels run one (sample, channel)
plane per iteration, so col2im's scatter-add never races. In col2im the width positions whose
input falls inside the image are computed once per tap (cyl_first_inside / cyl_end_inside in include/cylayers/window.h), so its
inner loop is a plain add with no test per element (measured 1.2x faster; for im2col's copy the
per-element test measured faster on short rows, so it stays).
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


def im2col(const floating[::1] x,      # IN  (N, C, D, H, W)
           floating[::1] cols,         # OUT (C, kd, kh, kw, N, oD, oH, oW)
           Py_ssize_t N, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
           Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
           Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
           Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
           Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW, int num_threads):
    cdef Py_ssize_t p, a, b, e, od, oh, ow, idd, ih, iw, xbase, cbase, row, src, dst
    cdef Py_ssize_t L = oD * oH * oW
    cdef Py_ssize_t plane = D * H * W, taps = kd * kh * kw, n_planes = N * C
    for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        xbase = p * plane
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = (a * kh + b) * kw + e
                    cbase = (((p % C) * taps + row) * N + p // C) * L
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


def col2im(const floating[::1] cols,   # IN  (C, kd, kh, kw, N, oD, oH, oW)
           floating[::1] dx,           # OUT (N, C, D, H, W), overwritten
           Py_ssize_t N, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
           Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
           Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
           Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
           Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW, int num_threads):
    cdef Py_ssize_t p, i, a, b, e, od, oh, ow, idd, ih, xbase, cbase, row, src, dst, lo, hi
    cdef Py_ssize_t L = oD * oH * oW
    cdef Py_ssize_t plane = D * H * W, taps = kd * kh * kw, n_planes = N * C
    for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        xbase = p * plane
        for i in range(plane):
            dx[xbase + i] = 0
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = (a * kh + b) * kw + e
                    cbase = (((p % C) * taps + row) * N + p // C) * L
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
