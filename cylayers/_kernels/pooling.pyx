"""Max, average and adaptive-average pooling over 1-, 2- and 3-D windows (as 3-D with unit
depth/height), forward and backward, one (sample, channel) plane per iteration."""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t

import numpy as np

include "sizes.pxi"

cdef extern from "cylayers/window.h" nogil:
    Py_ssize_t cyl_window_index(Py_ssize_t o, Py_ssize_t stride, Py_ssize_t pad,
                                Py_ssize_t offset)
    bint cyl_inside(Py_ssize_t index, Py_ssize_t size)
    Py_ssize_t cyl_min_index(Py_ssize_t a, Py_ssize_t b)
    Py_ssize_t cyl_max_index(Py_ssize_t a, Py_ssize_t b)


def max_pool_forward(const floating[::1] x,     # IN  (planes, D, H, W)
                     floating[::1] out,         # OUT (planes, oD, oH, oW)
                     int64_t[::1] indices,      # OUT flat index of the max within its plane
                     Py_ssize_t n_planes, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                     Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                     Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
                     Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
                     Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
                     Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW, int num_threads):
    cdef Py_ssize_t p, od, oh, ow, a, b, e, idd, ih, iw, o, best, xb, plane = D * H * W
    cdef Py_ssize_t L = oD * oH * oW
    cdef floating v, m
    check_counts("max_pool_forward", (n_planes, D, H, W, oD, oH, oW))
    check_length("max_pool_forward", "x", x.shape[0], n_planes * plane)
    check_length("max_pool_forward", "out", out.shape[0], n_planes * L)
    check_length("max_pool_forward", "indices", indices.shape[0], n_planes * L)
    for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        xb = p * plane
        for od in range(oD):
            for oh in range(oH):
                for ow in range(oW):
                    best = -1
                    m = 0
                    for a in range(kd):
                        idd = cyl_window_index(od, sd, pd, a * dd)
                        if not cyl_inside(idd, D):
                            continue
                        for b in range(kh):
                            ih = cyl_window_index(oh, sh, ph, b * dh)
                            if not cyl_inside(ih, H):
                                continue
                            for e in range(kw):
                                iw = cyl_window_index(ow, sw, pw, e * dw)
                                if not cyl_inside(iw, W):
                                    continue
                                v = x[xb + (idd * H + ih) * W + iw]
                                # The first NaN wins, as in PyTorch; on ties the first
                                # maximum is kept.
                                if best < 0 or v > m or (v != v and m == m):
                                    m = v
                                    best = (idd * H + ih) * W + iw
                    o = p * L + (od * oH + oh) * oW + ow
                    out[o] = m
                    indices[o] = best


def max_pool_backward(const floating[::1] grad,    # IN  (planes, L)
                      const int64_t[::1] indices,  # IN  (planes, L)
                      floating[::1] dx,            # OUT (planes, plane), overwritten
                      Py_ssize_t n_planes, Py_ssize_t plane, Py_ssize_t L, int num_threads):
    cdef Py_ssize_t p, i, j, outside = 0
    check_counts("max_pool_backward", (n_planes, plane, L))
    check_length("max_pool_backward", "grad", grad.shape[0], n_planes * L)
    check_length("max_pool_backward", "indices", indices.shape[0], n_planes * L)
    check_length("max_pool_backward", "dx", dx.shape[0], n_planes * plane)
    for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        for i in range(plane):
            dx[p * plane + i] = 0
        for i in range(L):
            j = indices[p * L + i]
            if j >= plane:
                outside += 1
            elif j >= 0:  # -1: a window with no element (all padding)
                dx[p * plane + j] += grad[p * L + i]
    if outside:
        raise ValueError(f"max_pool_backward: {outside} indices lie outside their plane of "
                         f"{plane} elements")


cdef inline double _window_sum(const floating* plane, Py_ssize_t H, Py_ssize_t W,
                               Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t h0, Py_ssize_t h1,
                               Py_ssize_t w0, Py_ssize_t w1) noexcept nogil:
    """Sum (in float64) of plane[d0:d1, h0:h1, w0:w1] of a (D, H, W) plane."""
    cdef Py_ssize_t a, b, e
    cdef double acc = 0
    for a in range(d0, d1):
        for b in range(h0, h1):
            for e in range(w0, w1):
                acc = acc + plane[(a * H + b) * W + e]
    return acc


cdef inline void _window_add(floating* plane, Py_ssize_t H, Py_ssize_t W,
                             Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t h0, Py_ssize_t h1,
                             Py_ssize_t w0, Py_ssize_t w1, floating share) noexcept nogil:
    """plane[d0:d1, h0:h1, w0:w1] += share: an average's gradient, spread over its window."""
    cdef Py_ssize_t a, b, e
    for a in range(d0, d1):
        for b in range(h0, h1):
            for e in range(w0, w1):
                plane[(a * H + b) * W + e] += share


def avg_pool(const floating[::1] src,   # IN  forward: x (planes, D, H, W); backward: grad
             floating[::1] dst,         # OUT forward: out; backward: dx (overwritten)
             bint backward,
             Py_ssize_t n_planes, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
             Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
             Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
             Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
             Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW,
             bint count_include_pad, Py_ssize_t divisor_override, int num_threads):
    """PyTorch's window rule: the window may extend into the padding (counted when
    count_include_pad) but is clipped at input + padding; divisor_override > 0 replaces it."""
    cdef Py_ssize_t p, od, oh, ow, d0, d1, h0, h1, w0, w1, a, o, xb, div
    cdef Py_ssize_t plane = D * H * W, L = oD * oH * oW
    check_counts("avg_pool", (n_planes, D, H, W, oD, oH, oW))
    check_length("avg_pool", "src", src.shape[0], n_planes * (L if backward else plane))
    check_length("avg_pool", "dst", dst.shape[0], n_planes * (plane if backward else L))
    for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        xb = p * plane
        if backward:
            for a in range(plane):
                dst[xb + a] = 0
        for od in range(oD):
            for oh in range(oH):
                for ow in range(oW):
                    d0 = cyl_window_index(od, sd, pd, 0)
                    h0 = cyl_window_index(oh, sh, ph, 0)
                    w0 = cyl_window_index(ow, sw, pw, 0)
                    d1 = cyl_min_index(d0 + kd, D + pd)
                    h1 = cyl_min_index(h0 + kh, H + ph)
                    w1 = cyl_min_index(w0 + kw, W + pw)
                    div = (d1 - d0) * (h1 - h0) * (w1 - w0)
                    d0 = cyl_max_index(d0, 0)
                    h0 = cyl_max_index(h0, 0)
                    w0 = cyl_max_index(w0, 0)
                    d1 = cyl_min_index(d1, D)
                    h1 = cyl_min_index(h1, H)
                    w1 = cyl_min_index(w1, W)
                    if divisor_override > 0:
                        div = divisor_override
                    elif not count_include_pad:
                        div = (d1 - d0) * (h1 - h0) * (w1 - w0)
                    o = p * L + (od * oH + oh) * oW + ow
                    if backward:
                        _window_add(&dst[xb], H, W, d0, d1, h0, h1, w0, w1,
                                    <floating>(src[o] / <double>div))
                    else:
                        dst[o] = <floating>(_window_sum(&src[xb], H, W, d0, d1, h0, h1, w0, w1)
                                            / div)


def adaptive_avg_pool(const floating[::1] src,  # IN  forward: x; backward: grad
                      floating[::1] dst,        # OUT forward: out; backward: dx (overwritten)
                      bint backward,
                      Py_ssize_t n_planes, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                      Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW, int num_threads):
    """Output cell i covers input [floor(i*in/out), ceil((i+1)*in/out)). The cells' bounds are
    the same in every plane: computed once here (the divisions cost more than the averaging
    itself on small planes, measured)."""
    cdef Py_ssize_t p, od, oh, ow, d0, d1, h0, h1, w0, w1, a, o, xb, cnt, i
    cdef Py_ssize_t plane = D * H * W, L = oD * oH * oW
    cdef double acc, share
    check_counts("adaptive_avg_pool", (n_planes, D, H, W, oD, oH, oW))
    check_length("adaptive_avg_pool", "src", src.shape[0], n_planes * (L if backward else plane))
    check_length("adaptive_avg_pool", "dst", dst.shape[0], n_planes * (plane if backward else L))
    if L == 1:  # global average pooling: one contiguous plane per output, no windows
        for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1):
            xb = p * plane
            if backward:
                share = src[p] / <double>plane
                for a in range(plane):
                    dst[xb + a] = <floating>share
            else:
                acc = 0
                for a in range(plane):
                    acc = acc + src[xb + a]
                dst[p] = <floating>(acc / plane)
        return
    cdef Py_ssize_t[::1] lo = np.empty(oD + oH + oW, dtype=np.intp)
    cdef Py_ssize_t[::1] hi = np.empty(oD + oH + oW, dtype=np.intp)
    for i in range(oD):
        lo[i], hi[i] = (i * D) // oD, ((i + 1) * D + oD - 1) // oD
    for i in range(oH):
        lo[oD + i], hi[oD + i] = (i * H) // oH, ((i + 1) * H + oH - 1) // oH
    for i in range(oW):
        lo[oD + oH + i], hi[oD + oH + i] = (i * W) // oW, ((i + 1) * W + oW - 1) // oW
    for p in prange(n_planes, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        xb = p * plane
        if backward:
            for a in range(plane):
                dst[xb + a] = 0
        for od in range(oD):
            d0 = lo[od]
            d1 = hi[od]
            for oh in range(oH):
                h0 = lo[oD + oh]
                h1 = hi[oD + oh]
                for ow in range(oW):
                    w0 = lo[oD + oH + ow]
                    w1 = hi[oD + oH + ow]
                    cnt = (d1 - d0) * (h1 - h0) * (w1 - w0)
                    o = p * L + (od * oH + oh) * oW + ow
                    if backward:
                        _window_add(&dst[xb], H, W, d0, d1, h0, h1, w0, w1,
                                    <floating>(src[o] / <double>cnt))
                    else:
                        dst[o] = <floating>(_window_sum(&src[xb], H, W, d0, d1, h0, h1, w0, w1)
                                            / cnt)
