"""Direct convolution for few input channels (include/cylayers/direct_conv.h.tp): stride 1
along the last axis, any padding, dilation and stride elsewhere, no groups. Work items of up to
CHUNK_ROWS output rows are spread over the threads; each thread gathers the zero-padded input
rows of its item into its own scratch row, then accumulates every output channel of each output
row in registers."""
from cython cimport floating
from cython.parallel cimport prange, threadid

cdef extern from "cylayers/direct_conv.h" nogil:
    int CYL_DC_BLOCK
    int CYL_DC_VL_f
    int CYL_DC_VL_d
    void cyl_dc_pack_weights_f(const float* w, float* packed, Py_ssize_t O, Py_ssize_t K)
    void cyl_dc_pack_weights_d(const double* w, double* packed, Py_ssize_t O, Py_ssize_t K)
    void cyl_dc_output_row_f(const float* rows, const Py_ssize_t* offset, Py_ssize_t K,
                             const float* packed, const float* bias, Py_ssize_t O, float* out,
                             Py_ssize_t plane, Py_ssize_t out_w)
    void cyl_dc_output_row_d(const double* rows, const Py_ssize_t* offset, Py_ssize_t K,
                             const double* packed, const double* bias, Py_ssize_t O,
                             double* out, Py_ssize_t plane, Py_ssize_t out_w)


def packed_length(Py_ssize_t O, Py_ssize_t K):
    """Elements of the packed weights for O output channels of K taps each."""
    return (O + CYL_DC_BLOCK - 1) // CYL_DC_BLOCK * CYL_DC_BLOCK * K


def row_length(Py_ssize_t out_w, Py_ssize_t kw, Py_ssize_t dw, bint single):
    """Elements of one padded input row in the scratch: every vector of output columns reads
    a full vector at each of the kw offsets."""
    cdef Py_ssize_t vl = CYL_DC_VL_f if single else CYL_DC_VL_d
    return (out_w + vl - 1) // vl * vl + (kw - 1) * dw


def pack_weights(const floating[::1] w,   # IN  (O, K)
                 floating[::1] packed,    # OUT packed_length(O, K)
                 Py_ssize_t O, Py_ssize_t K):
    if w.shape[0] != O * K or packed.shape[0] != packed_length(O, K):
        raise ValueError(f"pack_weights: {w.shape[0]} weights and {packed.shape[0]} packed for "
                         f"O={O}, K={K}")
    if floating is float:
        cyl_dc_pack_weights_f(&w[0] if O * K > 0 else NULL, &packed[0] if O * K > 0 else NULL,
                              O, K)
    else:
        cyl_dc_pack_weights_d(&w[0] if O * K > 0 else NULL, &packed[0] if O * K > 0 else NULL,
                              O, K)


# Output rows per work item: their input rows are gathered once for all of them (each input
# row once per depth tap instead of once per output row and kernel row).
DEF CHUNK_ROWS = 8


def scratch_length(Py_ssize_t C, Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t sh, Py_ssize_t dh,
                   Py_ssize_t row_len):
    """Elements of one thread's scratch: the padded input rows of CHUNK_ROWS output rows."""
    return C * kd * _slab_rows(kh, sh, dh) * row_len


cdef inline Py_ssize_t _slab_rows(Py_ssize_t kh, Py_ssize_t sh, Py_ssize_t dh) noexcept nogil:
    return (CHUNK_ROWS - 1) * sh + (kh - 1) * dh + 1


cdef inline void _output_rows(const floating* x, floating* rows, const Py_ssize_t* offsets,
                              const floating* packed, const floating* bias, floating* out,
                              Py_ssize_t item, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                              Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t pd, Py_ssize_t ph,
                              Py_ssize_t pw, Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t O,
                              Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW,
                              Py_ssize_t row_len) noexcept nogil:
    """Work item = up to CHUNK_ROWS output rows (image n, depth od, from row oh0): gather the
    padded input rows they read, (C, kd, slab rows, row_len), then every channel of each row.
    Output row oh0 + i reads the slab from row i * sh on: the same tap offsets, shifted."""
    cdef Py_ssize_t chunks = (oH + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef Py_ssize_t n = item // (oD * chunks), od = item // chunks % oD
    cdef Py_ssize_t oh0 = item % chunks * CHUNK_ROWS, n_out = min(CHUNK_ROWS, oH - oh0)
    cdef Py_ssize_t slab = _slab_rows(kh, sh, dh), span = (n_out - 1) * sh + (kh - 1) * dh + 1
    cdef Py_ssize_t K = C * kd * kh * kw, plane = oD * oH * oW
    cdef Py_ssize_t c, a, j, i, idd, ih
    cdef floating* dst
    cdef const floating* src
    for c in range(C):
        for a in range(kd):
            idd = od * sd - pd + a * dd
            for j in range(span):
                ih = oh0 * sh - ph + j
                dst = rows + ((c * kd + a) * slab + j) * row_len
                if 0 <= idd < D and 0 <= ih < H:
                    # One loop with a test per element: split into zeros / copy / zeros, gcc
                    # makes memset and memcpy calls of these short rows (measured 1.6x slower).
                    src = x + ((n * C + c) * D + idd) * H * W + ih * W
                    for i in range(row_len):
                        dst[i] = src[i - pw] if pw <= i < pw + W else 0
                else:
                    for i in range(row_len):
                        dst[i] = 0
    out += n * O * plane + (od * oH + oh0) * oW
    for i in range(n_out):
        if floating is float:
            cyl_dc_output_row_f(rows + i * sh * row_len, offsets, K, packed, bias, O,
                                out + i * oW, plane, oW)
        else:
            cyl_dc_output_row_d(rows + i * sh * row_len, offsets, K, packed, bias, O,
                                out + i * oW, plane, oW)


def forward(const floating[::1] x,       # IN  (N, C, D, H, W)
            const floating[::1] packed,  # IN  pack_weights of the (O, C, kd, kh, kw) weights
            const floating[::1] bias,    # IN  (O,) or empty for none
            floating[::1] out,           # OUT (N, O, oD, oH, oW)
            floating[:, ::1] scratch,    # scratch: (threads, scratch_length(...))
            Py_ssize_t[::1] offsets,     # scratch: (C * kd * kh * kw,)
            Py_ssize_t N, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
            Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
            Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
            Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
            Py_ssize_t O, Py_ssize_t oD, Py_ssize_t oH, Py_ssize_t oW, int num_threads):
    cdef Py_ssize_t K = C * kd * kh * kw, r, c, a, b, e
    cdef Py_ssize_t items = N * oD * ((oH + CHUNK_ROWS - 1) // CHUNK_ROWS)
    cdef Py_ssize_t row_len = row_length(oW, kw, dw, floating is float)
    cdef Py_ssize_t slab = _slab_rows(kh, sh, dh)
    cdef const floating* bp = &bias[0] if bias.shape[0] > 0 else NULL
    cdef int tid
    if (x.shape[0] != N * C * D * H * W or out.shape[0] != N * O * oD * oH * oW
            or packed.shape[0] != packed_length(O, K) or bias.shape[0] not in (0, O)
            or offsets.shape[0] != K or scratch.shape[0] < num_threads
            or scratch.shape[1] < C * kd * slab * row_len):
        raise ValueError("direct_conv.forward: array sizes do not match the geometry")
    if min(C, kd, kh, kw, dd, dh, dw) < 1 or min(pd, ph, pw) < 0 or min(sd, sh) < 1:
        raise ValueError("direct_conv.forward: channels, kernel, stride, dilation must be >= 1, "
                         "padding >= 0")
    if N * O * oD * oH * oW == 0:
        return
    for c in range(C):
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    offsets[((c * kd + a) * kh + b) * kw + e] = (
                        ((c * kd + a) * slab + b * dh) * row_len + e * dw)
    if num_threads == 1:
        with nogil:
            for r in range(items):
                _output_rows(&x[0], &scratch[0, 0], &offsets[0], &packed[0], bp, &out[0], r,
                             C, D, H, W, kd, kh, kw, sd, sh, pd, ph, pw, dd, dh, O, oD, oH, oW,
                             row_len)
        return
    for r in prange(items, nogil=True, schedule='static', num_threads=num_threads):
        tid = threadid()
        _output_rows(&x[0], &scratch[tid, 0], &offsets[0], &packed[0], bp, &out[0], r,
                     C, D, H, W, kd, kh, kw, sd, sh, pd, ph, pw, dd, dh, O, oD, oH, oW, row_len)
