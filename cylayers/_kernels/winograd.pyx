"""Winograd F(2x2, 3x3) transforms for 3x3, stride-1 convolutions (Lavin & Gray, 2015).

A 2x2 block of outputs is A^T [(G g G^T) . (B^T d B)] A, with d the 4x4 input patch under it and
g the 3x3 kernel: 16 multiplies per channel pair instead of 36, and the 16 products of every
(tile, channel pair) are 16 matrix products over channels (done by the gemm kernel). These
kernels are the data transforms and their adjoints (the exact gradient of the forward):

    input_transform              V[xi, p, c]  = (B^T d B)[xi]  for every tile p of x
    output_transform             y tile       = A^T M[:, p, o] A (+ bias)
    output_transform_backward    dM[xi, p, o] = (A dy A^T)[xi]
    input_transform_backward     dx          += B dV[:, p, c] B^T, tiles overlapping by 2

Tiles are numbered p = (n * TH + ty) * TW + tx; tile (ty, tx) reads input rows 2 ty - pad_h ..
+3 and columns 2 tx - pad_w .. +3 (zeros outside the image) and writes output rows 2 ty, 2 ty + 1
(those inside the output). The transforms only add and subtract (and A, B hold only 0 and
+-1), so they add no rounding of their own beyond a few adds.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdlib cimport free, malloc

cdef extern from "cylayers/window.h" nogil:
    bint cyl_inside(Py_ssize_t index, Py_ssize_t size)

include "small_gemm.pxi"

cdef extern from "cylayers/winograd.h" nogil:
    void cyl_prefetch_rows(const void* p, Py_ssize_t nbytes)
    void cyl_wino_bt_rows_f(const float* d0, const float* d1, const float* d2, const float* d3,
                            float* t, Py_ssize_t n)
    void cyl_wino_bt_rows_d(const double* d0, const double* d1, const double* d2,
                            const double* d3, double* t, Py_ssize_t n)
    void cyl_wino_tb_f(const float* t, Py_ssize_t nl, float* v, Py_ssize_t step)
    void cyl_wino_tb_d(const double* t, Py_ssize_t nl, double* v, Py_ssize_t step)
    void cyl_wino_tb_adjoint_f(const float* v, Py_ssize_t step, float* h, Py_ssize_t nl)
    void cyl_wino_tb_adjoint_d(const double* v, Py_ssize_t step, double* h, Py_ssize_t nl)
    void cyl_wino_at_f(const float* m, Py_ssize_t step, Py_ssize_t nl, const float* bias,
                       float* y0, float* y1)
    void cyl_wino_at_d(const double* m, Py_ssize_t step, Py_ssize_t nl, const double* bias,
                       double* y0, double* y1)
    void cyl_wino_at_adjoint_f(const float* g0, const float* g1, Py_ssize_t nl, float* dm,
                               Py_ssize_t step)
    void cyl_wino_at_adjoint_d(const double* g0, const double* g1, Py_ssize_t nl, double* dm,
                               Py_ssize_t step)
    void cyl_wino_bt_rows_adjoint_f(const float* t, float* r0, float* r1, float* r2, float* r3,
                                    Py_ssize_t n)
    void cyl_wino_bt_rows_adjoint_d(const double* t, double* r0, double* r1, double* r2,
                                    double* r3, Py_ssize_t n)


# The data transforms work on up to MAX_LANES channels of one image at a time, channels last
# (V, M, dM and dV are (16, P, channels); planes are moved through a few scratch rows of
# (columns, channels)): every transform is then a contiguous loop over the channels, which the
# compiler vectorizes (include/cylayers/winograd.h.tp), where one plane at a time it ran one
# tile, one element after the other. Each image's channel group is one task with its own scratch
# (malloc'd per thread, indexed by threadid()), so the scatter-add of the input's gradient,
# whose tiles overlap by two rows and columns, never races.
cdef enum:
    MAX_LANES = 64
    PAIRS = 64  # channel pairs per chunk of the weight transforms
    # Elements between one thread's scratch and the next (64+ bytes): no cache line is written
    # by two threads.
    THREAD_PAD = 16


cdef struct LaneGroups:  # channels in groups of up to MAX_LANES: a task per (image, group)
    Py_ssize_t channels, lanes, groups


cdef inline LaneGroups _lane_groups(Py_ssize_t channels) noexcept nogil:
    cdef LaneGroups lg
    lg.channels = channels
    lg.lanes = channels if channels < MAX_LANES else MAX_LANES
    lg.groups = (channels + lg.lanes - 1) // lg.lanes if channels else 0
    return lg


cdef inline Py_ssize_t _group_first(LaneGroups lg, Py_ssize_t task) noexcept nogil:
    """Task (image, group)'s first channel."""
    return (task % lg.groups) * lg.lanes


cdef inline Py_ssize_t _group_size(LaneGroups lg, Py_ssize_t first) noexcept nogil:
    return lg.lanes if first + lg.lanes <= lg.channels else lg.channels - first


cdef void* _scratch(Py_ssize_t nbytes, str kernel) except NULL:
    cdef void* p = malloc(nbytes)
    if p == NULL:
        raise MemoryError(f"{kernel}: no memory for the scratch rows")
    return p


cdef void _load_row(const floating* x, Py_ssize_t plane, Py_ssize_t nl, Py_ssize_t r,
                    Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad_w, Py_ssize_t span,
                    floating* row) noexcept nogil:
    """row[q, l] = x[channel l, r, q - pad_w] for q < span (0 outside the image), channels
    last. Read along the rows, one channel at a time: the channels' planes are often 4 KiB
    apart, and read across them they evict each other from the cache."""
    cdef Py_ssize_t l, q, lo, hi
    cdef const floating* src
    if not cyl_inside(r, H):
        for q in range(span * nl):
            row[q] = 0
        return
    lo = pad_w if pad_w < span else span
    hi = pad_w + W if pad_w + W < span else span
    for l in range(nl):
        src = x + l * plane + r * W - pad_w
        # Ask now for this channel's row two below (the next tile row's): one stream per
        # channel is more than the hardware prefetcher follows.
        if r + 2 < H:
            cyl_prefetch_rows(src + 2 * W + lo, (hi - lo) * sizeof(floating))
        for q in range(lo):
            row[q * nl + l] = 0
        for q in range(lo, hi):
            row[q * nl + l] = src[q]
        for q in range(hi, span):
            row[q * nl + l] = 0


cdef void _input_image(const floating* x, Py_ssize_t plane, Py_ssize_t nl, floating* V,
                       Py_ssize_t xi_step, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t TH, Py_ssize_t TW,
                       floating* S) noexcept nogil:
    """One image for nl channels. x: the first channel's plane (the others `plane` further);
    V: tile 0, first channel (row xi xi_step further, tiles C apart); S: scratch for 8 rows
    of (2 TW + 2) columns x nl channels. Tile row ty reads input rows 2 ty - pad_h .. + 3:
    a ring of 4 rows (R) keeps the two it shares with the next, so each row is loaded once;
    T holds B^T d for the strip."""
    cdef Py_ssize_t span = 2 * TW + 2, n = span * nl, ty, j, tx, a, o
    cdef floating* R = S
    cdef floating* T = S + 4 * n
    cdef const floating* r0
    cdef const floating* r1
    cdef const floating* r2
    cdef const floating* r3
    for ty in range(TH):
        for j in range(0 if ty == 0 else 2 * ty + 2, 2 * ty + 4):  # padded row j in slot j % 4
            _load_row(x, plane, nl, j - pad_h, H, W, pad_w, span, R + (j % 4) * n)
        r0 = R + ((2 * ty) % 4) * n
        r1 = R + ((2 * ty + 1) % 4) * n
        r2 = R + ((2 * ty + 2) % 4) * n
        r3 = R + ((2 * ty + 3) % 4) * n
        if floating is float:  # t = B^T d, down the columns
            cyl_wino_bt_rows_f(r0, r1, r2, r3, T, n)
        else:
            cyl_wino_bt_rows_d(r0, r1, r2, r3, T, n)
        for a in range(4):  # V = t B across each tile's 4 columns; 4 rows of V at a time
            for tx in range(TW):
                o = 4 * a * xi_step + (ty * TW + tx) * C
                if floating is float:
                    cyl_wino_tb_f(T + a * n + 2 * tx * nl, nl, V + o, xi_step)
                else:
                    cyl_wino_tb_d(T + a * n + 2 * tx * nl, nl, V + o, xi_step)


def input_transform(const floating[::1] x,   # IN  (N, C, H, W)
                    floating[::1] V,         # OUT (16, P, C)
                    Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                    Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t TH, Py_ssize_t TW,
                    int num_threads):
    cdef Py_ssize_t P = N * TH * TW, task, n, c0
    cdef LaneGroups lg = _lane_groups(C)
    cdef Py_ssize_t scratch = 8 * (2 * TW + 2) * lg.lanes + THREAD_PAD
    cdef floating* S
    if x.shape[0] != N * C * H * W or V.shape[0] != 16 * C * P:
        raise ValueError("input_transform: array sizes do not match the geometry")
    if N * C == 0 or P == 0:
        return
    S = <floating*> _scratch(num_threads * scratch * sizeof(floating), "input_transform")
    try:
        for task in prange(N * lg.groups, nogil=True, schedule='static',
                           num_threads=num_threads, use_threads_if=num_threads > 1):
            n = task // lg.groups
            c0 = _group_first(lg, task)
            _input_image(&x[0] + (n * C + c0) * H * W, H * W, _group_size(lg, c0),
                         &V[0] + n * TH * TW * C + c0, P * C, C, H, W, pad_h, pad_w, TH, TW,
                         S + threadid() * scratch)
    finally:
        free(S)


cdef void _output_image(const floating* M, Py_ssize_t xi_step, Py_ssize_t O, Py_ssize_t nl,
                        const floating* bias, floating* out, Py_ssize_t plane, Py_ssize_t OH,
                        Py_ssize_t OW, Py_ssize_t TH, Py_ssize_t TW,
                        floating* S) noexcept nogil:
    """One image for nl channels. M: tile 0, first channel (row xi xi_step further, tiles O
    apart); bias: the first channel's, or NULL; out: the first channel's plane (the others
    `plane` further). A tile row's two output rows are built channels last in S, then stored
    along the rows."""
    cdef Py_ssize_t span = 2 * TW, n = span * nl, ty, tx, i
    for ty in range(TH):
        for tx in range(TW):
            if floating is float:
                cyl_wino_at_f(M + (ty * TW + tx) * O, xi_step, nl, bias, S + 2 * tx * nl,
                              S + n + 2 * tx * nl)
            else:
                cyl_wino_at_d(M + (ty * TW + tx) * O, xi_step, nl, bias, S + 2 * tx * nl,
                              S + n + 2 * tx * nl)
        for i in range(2):
            _store_row(S + i * n, nl, 2 * ty + i, OH, OW, 0, span, out, plane)


def output_transform(const floating[::1] M,     # IN  (16, P, O)
                     const floating[::1] bias,  # IN  (O,), or empty for no bias
                     floating[::1] out,         # OUT (N, O, OH, OW)
                     Py_ssize_t N, Py_ssize_t O, Py_ssize_t OH, Py_ssize_t OW,
                     Py_ssize_t TH, Py_ssize_t TW, int num_threads):
    cdef Py_ssize_t P = N * TH * TW, task, n, o0
    cdef LaneGroups lg = _lane_groups(O)
    cdef Py_ssize_t scratch = 2 * 2 * TW * lg.lanes + THREAD_PAD
    cdef bint has_bias = bias.shape[0] != 0
    cdef floating* S
    if M.shape[0] != 16 * O * P or out.shape[0] != N * O * OH * OW \
            or (has_bias and bias.shape[0] != O):
        raise ValueError("output_transform: array sizes do not match the geometry")
    if N * O == 0 or P == 0:
        return
    S = <floating*> _scratch(num_threads * scratch * sizeof(floating), "output_transform")
    try:
        for task in prange(N * lg.groups, nogil=True, schedule='static',
                           num_threads=num_threads, use_threads_if=num_threads > 1):
            n = task // lg.groups
            o0 = _group_first(lg, task)
            _output_image(&M[0] + n * TH * TW * O + o0, P * O, O, _group_size(lg, o0),
                          &bias[0] + o0 if has_bias else NULL, &out[0] + (n * O + o0) * OH * OW,
                          OH * OW, OH, OW, TH, TW, S + threadid() * scratch)
    finally:
        free(S)


cdef void _image_product(const floating* V, Py_ssize_t xi_step, const floating* Ut,
                         Py_ssize_t C, Py_ssize_t O, Py_ssize_t tiles,
                         floating* M) noexcept nogil:
    """M (16, tiles, O) of one image = its V rows (tiles, C), xi_step apart per component,
    times Ut (16, C, O), in blocks of CYL_SG_ROWS tiles (each sum over c in order)."""
    cdef Py_ssize_t xi, blk, r0, rows
    for xi in range(16):
        for blk in range((tiles + CYL_SG_ROWS - 1) // CYL_SG_ROWS):
            r0 = blk * CYL_SG_ROWS
            rows = min(CYL_SG_ROWS, tiles - r0)
            if floating is float:
                cyl_sg_rows_f(V + xi * xi_step + r0 * C, C, 1, Ut + xi * C * O,
                              M + (xi * tiles + r0) * O, rows, O, C)
            else:
                cyl_sg_rows_d(V + xi * xi_step + r0 * C, C, 1, Ut + xi * C * O,
                              M + (xi * tiles + r0) * O, rows, O, C)


def product_output(const floating[::1] V,     # IN  (16, P, C)
                   const floating[::1] Ut,    # IN  (16, C, O): U with its last axes swapped
                   const floating[::1] bias,  # IN  (O,), or empty for no bias
                   floating[::1] out,         # OUT (N, O, OH, OW)
                   Py_ssize_t N, Py_ssize_t C, Py_ssize_t O, Py_ssize_t OH, Py_ssize_t OW,
                   Py_ssize_t TH, Py_ssize_t TW, int num_threads):
    """output_transform(V U^T), one image per task: the image's M is made in the thread's
    scratch by the register-blocked product and transformed while it is still in the cache
    (separately, all of M is written out and read back: 2 MB for the digits CNN's conv2).
    O must be a multiple of one vector (register_columns)."""
    cdef Py_ssize_t P = N * TH * TW, tiles = TH * TW, n, o0, grp
    cdef Py_ssize_t h = CYL_SG_H_f if floating is float else CYL_SG_H_d
    cdef LaneGroups lg = _lane_groups(O)
    cdef Py_ssize_t m_len = 16 * tiles * O, scratch = m_len + 2 * 2 * TW * lg.lanes + THREAD_PAD
    cdef bint has_bias = bias.shape[0] != 0
    cdef floating* S
    cdef floating* Mi
    if (V.shape[0] != 16 * P * C or Ut.shape[0] != 16 * C * O
            or out.shape[0] != N * O * OH * OW or (has_bias and bias.shape[0] != O) or O % h):
        raise ValueError("product_output: array sizes do not match the geometry")
    if N * O == 0 or P == 0:
        return
    if C == 0:
        raise ValueError("product_output: no input channels")
    S = <floating*> _scratch(num_threads * scratch * sizeof(floating), "product_output")
    try:
        for n in prange(N, nogil=True, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1):
            Mi = S + threadid() * scratch
            _image_product(&V[0] + n * tiles * C, P * C, &Ut[0], C, O, tiles, Mi)
            for grp in range(lg.groups):
                o0 = grp * lg.lanes
                _output_image(Mi + o0, tiles * O, O, _group_size(lg, o0),
                              &bias[0] + o0 if has_bias else NULL,
                              &out[0] + (n * O + o0) * OH * OW, OH * OW, OH, OW, TH, TW,
                              Mi + m_len)
    finally:
        free(S)


cdef void _output_grad_image(const floating* grad, Py_ssize_t plane, Py_ssize_t nl,
                             floating* dM, Py_ssize_t xi_step, Py_ssize_t O, Py_ssize_t OH,
                             Py_ssize_t OW, Py_ssize_t TH, Py_ssize_t TW,
                             floating* S) noexcept nogil:
    """One image for nl channels (the adjoint of _output_image, without the bias): a tile
    row's two rows of the gradient loaded channels last, then each tile's 16 values."""
    cdef Py_ssize_t span = 2 * TW, n = span * nl, ty, tx, i
    for ty in range(TH):
        for i in range(2):
            _load_row(grad, plane, nl, 2 * ty + i, OH, OW, 0, span, S + i * n)
        for tx in range(TW):
            if floating is float:
                cyl_wino_at_adjoint_f(S + 2 * tx * nl, S + n + 2 * tx * nl, nl,
                                      dM + (ty * TW + tx) * O, xi_step)
            else:
                cyl_wino_at_adjoint_d(S + 2 * tx * nl, S + n + 2 * tx * nl, nl,
                                      dM + (ty * TW + tx) * O, xi_step)


def output_transform_backward(const floating[::1] grad,  # IN  (N, O, OH, OW)
                              floating[::1] dM,          # OUT (16, P, O)
                              Py_ssize_t N, Py_ssize_t O, Py_ssize_t OH, Py_ssize_t OW,
                              Py_ssize_t TH, Py_ssize_t TW, int num_threads):
    cdef Py_ssize_t P = N * TH * TW, task, n, o0
    cdef LaneGroups lg = _lane_groups(O)
    cdef Py_ssize_t scratch = 2 * 2 * TW * lg.lanes + THREAD_PAD
    cdef floating* S
    if grad.shape[0] != N * O * OH * OW or dM.shape[0] != 16 * O * P:
        raise ValueError("output_transform_backward: array sizes do not match the geometry")
    if N * O == 0 or P == 0:
        return
    S = <floating*> _scratch(num_threads * scratch * sizeof(floating),
                             "output_transform_backward")
    try:
        for task in prange(N * lg.groups, nogil=True, schedule='static',
                           num_threads=num_threads, use_threads_if=num_threads > 1):
            n = task // lg.groups
            o0 = _group_first(lg, task)
            _output_grad_image(&grad[0] + (n * O + o0) * OH * OW, OH * OW, _group_size(lg, o0),
                               &dM[0] + n * TH * TW * O + o0, P * O, O, OH, OW, TH, TW,
                               S + threadid() * scratch)
    finally:
        free(S)


cdef void _store_row(const floating* row, Py_ssize_t nl, Py_ssize_t r, Py_ssize_t H,
                     Py_ssize_t W, Py_ssize_t pad_w, Py_ssize_t span, floating* dx,
                     Py_ssize_t plane) noexcept nogil:
    """dx[channel l, r, q - pad_w] = row[q, l] where inside the image (the adjoint of
    _load_row); along the rows, one channel at a time."""
    cdef Py_ssize_t l, q, lo, hi
    cdef floating* dst
    if not cyl_inside(r, H):
        return
    lo = pad_w if pad_w < span else span
    hi = pad_w + W if pad_w + W < span else span
    for l in range(nl):
        dst = dx + l * plane + r * W - pad_w
        for q in range(lo, hi):
            dst[q] = row[q * nl + l]


cdef void _input_grad_image(const floating* dV, Py_ssize_t xi_step, Py_ssize_t C,
                            Py_ssize_t nl, floating* dx, Py_ssize_t plane, Py_ssize_t H,
                            Py_ssize_t W, Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t TH,
                            Py_ssize_t TW, floating* S) noexcept nogil:
    """One image for nl channels. dV: tile 0, first channel (row xi xi_step further, tiles C
    apart); dx: the first channel's plane (the others `plane` further), overwritten. Tile row
    ty adds into padded rows 2 ty .. 2 ty + 3, kept in a ring of 4 (R); rows 2 ty and 2 ty + 1
    are complete after it and are written out. T holds v B^T for the strip."""
    cdef Py_ssize_t span = 2 * TW + 2, n = span * nl, i, q, l, j, tx, ty, a
    cdef const floating* v
    cdef floating* h
    cdef floating* R = S
    cdef floating* T = S + 4 * n
    cdef floating* r0
    cdef floating* r1
    cdef floating* r2
    cdef floating* r3
    for l in range(nl):  # rows and columns no tile covers get no gradient
        for i in range(H * W):
            dx[l * plane + i] = 0
    for q in range(4 * n):
        R[q] = 0
    for ty in range(TH):
        for q in range(4 * n):
            T[q] = 0
        for a in range(4):  # v B^T across, into the strip's columns 2 tx .. 2 tx + 3
            for tx in range(TW):
                v = dV + 4 * a * xi_step + (ty * TW + tx) * C
                h = T + a * n + 2 * tx * nl
                if floating is float:
                    cyl_wino_tb_adjoint_f(v, xi_step, h, nl)
                else:
                    cyl_wino_tb_adjoint_d(v, xi_step, h, nl)
        r0 = R + ((2 * ty) % 4) * n
        r1 = R + ((2 * ty + 1) % 4) * n
        r2 = R + ((2 * ty + 2) % 4) * n
        r3 = R + ((2 * ty + 3) % 4) * n
        if floating is float:  # B (.) down the columns, added into the 4 rows
            cyl_wino_bt_rows_adjoint_f(T, r0, r1, r2, r3, n)
        else:
            cyl_wino_bt_rows_adjoint_d(T, r0, r1, r2, r3, n)
        for j in range(2 * ty, 2 * ty + 2 if ty + 1 < TH else 2 * ty + 4):  # complete rows
            _store_row(R + (j % 4) * n, nl, j - pad_h, H, W, pad_w, span, dx, plane)
            for q in range(n):  # the slot starts over as row j + 4
                R[(j % 4) * n + q] = 0


def input_transform_backward(const floating[::1] dV,  # IN  (16, P, C)
                             floating[::1] dx,        # OUT (N, C, H, W), overwritten
                             Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                             Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t TH,
                             Py_ssize_t TW, int num_threads):
    cdef Py_ssize_t P = N * TH * TW, task, n, c0
    cdef LaneGroups lg = _lane_groups(C)
    cdef Py_ssize_t scratch = 8 * (2 * TW + 2) * lg.lanes + THREAD_PAD
    cdef floating* S
    if dV.shape[0] != 16 * C * P or dx.shape[0] != N * C * H * W:
        raise ValueError("input_transform_backward: array sizes do not match the geometry")
    if N * C == 0 or H * W == 0:
        return
    S = <floating*> _scratch(num_threads * scratch * sizeof(floating),
                             "input_transform_backward")
    try:
        for task in prange(N * lg.groups, nogil=True, schedule='static',
                           num_threads=num_threads, use_threads_if=num_threads > 1):
            n = task // lg.groups
            c0 = _group_first(lg, task)
            _input_grad_image(&dV[0] + n * TH * TW * C + c0, P * C, C, _group_size(lg, c0),
                              &dx[0] + (n * C + c0) * H * W, H * W, H, W, pad_h, pad_w, TH,
                              TW, S + threadid() * scratch)
    finally:
        free(S)


def weight_transform(const floating[::1] w,  # IN  (O, C, 3, 3)
                     floating[::1] U,        # OUT (16, O, C): G w G^T per channel pair
                     Py_ssize_t pairs, int num_threads):
    cdef Py_ssize_t chunk
    if w.shape[0] != 9 * pairs or U.shape[0] != 16 * pairs:
        raise ValueError("weight_transform: array sizes do not match the geometry")
    for chunk in prange((pairs + PAIRS - 1) // PAIRS, nogil=True, schedule='static',
                        num_threads=num_threads, use_threads_if=num_threads > 1):
        _weight_chunk(&w[0], &U[0], chunk * PAIRS, pairs)


cdef void _weight_chunk(const floating* w, floating* U, Py_ssize_t q0,
                        Py_ssize_t pairs) noexcept nogil:
    """Pairs q0 .. q0 + PAIRS through a (16, PAIRS) buffer: U's 16 rows are `pairs` apart,
    often a multiple of 4 KiB, and written one element at a time they evicted each other from
    the cache (32 x 32 channels: 34 us, 4 with the buffer)."""
    cdef Py_ssize_t j, xi, cnt = PAIRS if q0 + PAIRS <= pairs else pairs - q0
    cdef floating buf[16 * PAIRS]
    for j in range(cnt):
        _weight_pair(w + 9 * (q0 + j), buf + j, PAIRS)
    for xi in range(16):
        for j in range(cnt):
            U[xi * pairs + q0 + j] = buf[xi * PAIRS + j]


cdef inline void _weight_pair(const floating* g, floating* u, Py_ssize_t step) noexcept nogil:
    """u[xi * step] = (G g G^T)[xi] for one 3x3 kernel g (G's entries are 0, 1 and 1/2)."""
    cdef Py_ssize_t i, k
    cdef floating t[12]
    for k in range(3):  # t = G g
        t[k] = g[k]
        t[3 + k] = <floating>0.5 * (g[k] + g[3 + k] + g[6 + k])
        t[6 + k] = <floating>0.5 * (g[k] - g[3 + k] + g[6 + k])
        t[9 + k] = g[6 + k]
    for i in range(4):  # u = t G^T
        u[(4 * i + 0) * step] = t[3 * i]
        u[(4 * i + 1) * step] = <floating>0.5 * (t[3 * i] + t[3 * i + 1] + t[3 * i + 2])
        u[(4 * i + 2) * step] = <floating>0.5 * (t[3 * i] - t[3 * i + 1] + t[3 * i + 2])
        u[(4 * i + 3) * step] = t[3 * i + 2]


def weight_transform_backward(const floating[::1] dU,  # IN  (16, O, C)
                              floating[::1] dw,        # OUT (O, C, 3, 3): G^T dU G
                              Py_ssize_t pairs, int num_threads):
    cdef Py_ssize_t chunk
    if dU.shape[0] != 16 * pairs or dw.shape[0] != 9 * pairs:
        raise ValueError("weight_transform_backward: array sizes do not match the geometry")
    for chunk in prange((pairs + PAIRS - 1) // PAIRS, nogil=True, schedule='static',
                        num_threads=num_threads, use_threads_if=num_threads > 1):
        _weight_grad_chunk(&dU[0], &dw[0], chunk * PAIRS, pairs)


cdef void _weight_grad_chunk(const floating* dU, floating* dw, Py_ssize_t q0,
                             Py_ssize_t pairs) noexcept nogil:
    """The adjoint of _weight_chunk, through the same kind of buffer."""
    cdef Py_ssize_t j, xi, cnt = PAIRS if q0 + PAIRS <= pairs else pairs - q0
    cdef floating buf[16 * PAIRS]
    for xi in range(16):
        for j in range(cnt):
            buf[xi * PAIRS + j] = dU[xi * pairs + q0 + j]
    for j in range(cnt):
        _weight_grad_pair(buf + j, PAIRS, dw + 9 * (q0 + j))


cdef inline void _weight_grad_pair(const floating* du, Py_ssize_t step,
                                   floating* dg) noexcept nogil:
    """dg = G^T du G for one pair, du[xi * step] (the adjoint of _weight_pair)."""
    cdef Py_ssize_t i, k
    cdef floating s[12]
    cdef floating h = 0.5
    for k in range(4):  # s = G^T du
        s[k] = du[k * step] + h * du[(4 + k) * step] + h * du[(8 + k) * step]
        s[4 + k] = h * du[(4 + k) * step] - h * du[(8 + k) * step]
        s[8 + k] = h * du[(4 + k) * step] + h * du[(8 + k) * step] + du[(12 + k) * step]
    for i in range(3):  # dg = s G
        dg[3 * i] = s[4 * i] + h * s[4 * i + 1] + h * s[4 * i + 2]
        dg[3 * i + 1] = h * s[4 * i + 1] - h * s[4 * i + 2]
        dg[3 * i + 2] = h * s[4 * i + 1] + h * s[4 * i + 2] + s[4 * i + 3]
