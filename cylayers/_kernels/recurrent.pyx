"""Recurrent cell kernels: one time step of the LSTM's and the GRU's gate math, forward and
backward, each one pass over the step's gates (the matrix products around them stay on the
BLAS or the panel kernel).

Arrays are C-contiguous (rows, columns) memoryviews: the rows of one step. Gates are laid out
as PyTorch's (input, forget, cell, output), H columns each. Every element is computed by the
same code on any thread count (rows are split, never reduced across), so the bits do not
depend on it."""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport tanh

cdef extern from "cylayers/scalar_math.h" nogil:
    double cyl_sigmoid_d(double x)
    float cyl_sigmoid_fast_f(float x)
    float cyl_tanh_fast_f(float x)


cdef inline floating _sigmoid(floating x) noexcept nogil:
    if floating is float:
        return cyl_sigmoid_fast_f(x)
    else:
        return cyl_sigmoid_d(x)


cdef inline floating _tanh(floating x) noexcept nogil:
    if floating is float:
        return cyl_tanh_fast_f(x)
    else:
        return tanh(x)


def lstm_step_forward(const floating[:, ::1] projected,  # IN  (N, 4H) input projection + b_ih
                      const floating[:, ::1] recurrent,  # IN  (N, 4H) h_prev @ w_hh^T
                      const floating[::1] bias,          # IN  (4H,) b_hh, or empty for none
                      floating[:, ::1] c,                # IN/OUT (N, H) c_prev in, c_new out
                      floating[:, ::1] acts,             # OUT (N, 4H) sig(i), sig(f), tanh(g), sig(o)
                      floating[:, ::1] c_prev,           # OUT (N, H) c as it was read
                      floating[:, ::1] tanh_c,           # OUT (N, H) tanh(c_new)
                      floating[:, ::1] h,                # OUT (N, H) o * tanh(c_new)
                      int num_threads):
    cdef Py_ssize_t n = projected.shape[0], H = c.shape[1], r
    cdef bint has_bias = bias.shape[0] != 0
    if projected.shape[1] != 4 * H or recurrent.shape[0] != n or recurrent.shape[1] != 4 * H:
        raise ValueError(f"gates must be ({n}, {4 * H}); got projected {projected.shape[0]}x"
                         f"{projected.shape[1]} and recurrent {recurrent.shape[0]}x"
                         f"{recurrent.shape[1]}")
    if has_bias and bias.shape[0] != 4 * H:
        raise ValueError(f"bias must have {4 * H} elements, got {bias.shape[0]}")
    if not (c.shape[0] == c_prev.shape[0] == tanh_c.shape[0] == h.shape[0] == n
            and c_prev.shape[1] == tanh_c.shape[1] == h.shape[1] == H):
        raise ValueError(f"c, c_prev, tanh_c and h must all be ({n}, {H})")
    if acts.shape[0] != n or acts.shape[1] != 4 * H:
        raise ValueError(f"acts must be ({n}, {4 * H}), got {acts.shape[0]}x{acts.shape[1]}")
    for r in prange(n, nogil=True, schedule='static', num_threads=num_threads):
        _lstm_row_forward(&projected[r, 0], &recurrent[r, 0],
                          &bias[0] if has_bias else NULL, &c[r, 0], &acts[r, 0],
                          &c_prev[r, 0], &tanh_c[r, 0], &h[r, 0], H)


cdef void _lstm_row_forward(const floating* proj, const floating* rec, const floating* bias,
                            floating* c, floating* acts, floating* c_prev, floating* tanh_c,
                            floating* h, Py_ssize_t H) noexcept nogil:
    """One row in simple passes over contiguous memory (each a loop the compiler vectorizes:
    one loop doing all four gates at once with their scattered stores was 10x slower)."""
    cdef Py_ssize_t j
    if bias != NULL:
        for j in range(4 * H):
            acts[j] = proj[j] + rec[j] + bias[j]
    else:
        for j in range(4 * H):
            acts[j] = proj[j] + rec[j]
    for j in range(2 * H):  # input and forget gates
        acts[j] = _sigmoid(acts[j])
    for j in range(2 * H, 3 * H):  # cell candidate
        acts[j] = _tanh(acts[j])
    for j in range(3 * H, 4 * H):  # output gate
        acts[j] = _sigmoid(acts[j])
    # (the cell update and its tanh in one loop were not vectorized: too many pointers that
    # might alias for the compiler's runtime checks; the tanh ran on scalars, 2/3 of the time)
    for j in range(H):
        c_prev[j] = c[j]
    for j in range(H):
        c[j] = acts[H + j] * c_prev[j] + acts[j] * acts[2 * H + j]
    for j in range(H):
        tanh_c[j] = _tanh(c[j])
    for j in range(H):
        h[j] = acts[3 * H + j] * tanh_c[j]


def lstm_step_backward(const floating[:, ::1] acts,    # IN  (N, 4H) the forward's activations
                       const floating[:, ::1] c_prev,  # IN  (N, H)
                       const floating[:, ::1] tanh_c,  # IN  (N, H)
                       const floating[:, ::1] dh,      # IN  (N, H) gradient of h at this step
                       floating[:, ::1] dc,            # IN/OUT (N, H) dc of c_new in, of c_prev out
                       floating[:, ::1] dgates,        # OUT (N, 4H) gradient of the pre-activations
                       int num_threads):
    cdef Py_ssize_t n = acts.shape[0], H = dh.shape[1], r
    if acts.shape[1] != 4 * H or dgates.shape[0] != n or dgates.shape[1] != 4 * H:
        raise ValueError(f"acts and dgates must be ({n}, {4 * H})")
    if not (c_prev.shape[0] == tanh_c.shape[0] == dh.shape[0] == dc.shape[0] == n
            and c_prev.shape[1] == tanh_c.shape[1] == dc.shape[1] == H):
        raise ValueError(f"c_prev, tanh_c, dh and dc must all be ({n}, {H})")
    for r in prange(n, nogil=True, schedule='static', num_threads=num_threads):
        _lstm_row_backward(&acts[r, 0], &c_prev[r, 0], &tanh_c[r, 0], &dh[r, 0], &dc[r, 0],
                           &dgates[r, 0], H)


cdef void _lstm_row_backward(const floating* acts, const floating* c_prev,
                             const floating* tanh_c, const floating* dh, floating* dc,
                             floating* dgates, Py_ssize_t H) noexcept nogil:
    """One row, a pass per gate (vectorized; the four gates' stores in one loop were not):
    dc first becomes the gradient of c_new including the path through h, then of c_prev."""
    cdef Py_ssize_t j
    for j in range(H):
        dc[j] = dc[j] + dh[j] * acts[3 * H + j] * (1 - tanh_c[j] * tanh_c[j])
    for j in range(H):  # input gate
        dgates[j] = dc[j] * acts[2 * H + j] * acts[j] * (1 - acts[j])
    for j in range(H):  # forget gate
        dgates[H + j] = dc[j] * c_prev[j] * acts[H + j] * (1 - acts[H + j])
    for j in range(H):  # cell candidate
        dgates[2 * H + j] = dc[j] * acts[j] * (1 - acts[2 * H + j] * acts[2 * H + j])
    for j in range(H):  # output gate
        dgates[3 * H + j] = dh[j] * tanh_c[j] * acts[3 * H + j] * (1 - acts[3 * H + j])
    for j in range(H):
        dc[j] = dc[j] * acts[H + j]


def gru_step_forward(const floating[:, ::1] projected,  # IN  (N, 3H) input projection + b_ih
                     const floating[:, ::1] recurrent,  # IN  (N, 3H) h_prev @ w_hh^T
                     const floating[::1] bias,          # IN  (3H,) b_hh, or empty for none
                     const floating[:, ::1] h_prev,     # IN  (N, H)
                     floating[:, ::1] rzn,              # OUT (N, 3H) sig(r), sig(z), tanh(n)
                     floating[:, ::1] gh_n,             # OUT (N, H) the recurrent part of n
                     floating[:, ::1] h,                # OUT (N, H) n + z * (h_prev - n)
                     int num_threads):
    """One GRU step's gates (PyTorch's reset, update, new order), one pass per gate."""
    cdef Py_ssize_t n = projected.shape[0], H = h_prev.shape[1], r
    cdef bint has_bias = bias.shape[0] != 0
    if (projected.shape[1] != 3 * H or recurrent.shape[0] != n or recurrent.shape[1] != 3 * H
            or rzn.shape[0] != n or rzn.shape[1] != 3 * H):
        raise ValueError(f"gates (projected, recurrent, rzn) must be ({n}, {3 * H})")
    if has_bias and bias.shape[0] != 3 * H:
        raise ValueError(f"bias must have {3 * H} elements, got {bias.shape[0]}")
    if not (h_prev.shape[0] == gh_n.shape[0] == h.shape[0] == n
            and gh_n.shape[1] == h.shape[1] == H):
        raise ValueError(f"h_prev, gh_n and h must all be ({n}, {H})")
    for r in prange(n, nogil=True, schedule='static', num_threads=num_threads):
        _gru_row_forward(&projected[r, 0], &recurrent[r, 0], &bias[0] if has_bias else NULL,
                         &h_prev[r, 0], &rzn[r, 0], &gh_n[r, 0], &h[r, 0], H)


cdef void _gru_row_forward(const floating* proj, const floating* rec, const floating* bias,
                           const floating* h_prev, floating* rzn, floating* gh_n, floating* h,
                           Py_ssize_t H) noexcept nogil:
    cdef Py_ssize_t j
    if bias != NULL:
        for j in range(2 * H):
            rzn[j] = proj[j] + rec[j] + bias[j]
        for j in range(H):
            gh_n[j] = rec[2 * H + j] + bias[2 * H + j]
    else:
        for j in range(2 * H):
            rzn[j] = proj[j] + rec[j]
        for j in range(H):
            gh_n[j] = rec[2 * H + j]
    for j in range(2 * H):  # reset and update gates
        rzn[j] = _sigmoid(rzn[j])
    for j in range(H):
        rzn[2 * H + j] = _tanh(proj[2 * H + j] + rzn[j] * gh_n[j])
    for j in range(H):
        h[j] = rzn[2 * H + j] + rzn[H + j] * (h_prev[j] - rzn[2 * H + j])


def gru_step_backward(const floating[:, ::1] rzn,     # IN  (N, 3H) the forward's gates
                      const floating[:, ::1] gh_n,    # IN  (N, H)
                      const floating[:, ::1] h_prev,  # IN  (N, H)
                      const floating[:, ::1] dh,      # IN  (N, H) gradient of h at this step
                      floating[:, ::1] d_projected,   # OUT (N, 3H) of the input projection
                      floating[:, ::1] d_recurrent,   # OUT (N, 3H) of h_prev @ w_hh^T + b_hh
                      floating[:, ::1] dh_direct,     # OUT (N, H) dh * z: h_prev's direct part
                      int num_threads):
    cdef Py_ssize_t n = rzn.shape[0], H = dh.shape[1], r
    if (rzn.shape[1] != 3 * H or d_projected.shape[0] != n or d_projected.shape[1] != 3 * H
            or d_recurrent.shape[0] != n or d_recurrent.shape[1] != 3 * H):
        raise ValueError(f"rzn, d_projected and d_recurrent must be ({n}, {3 * H})")
    if not (gh_n.shape[0] == h_prev.shape[0] == dh.shape[0] == dh_direct.shape[0] == n
            and gh_n.shape[1] == h_prev.shape[1] == dh_direct.shape[1] == H):
        raise ValueError(f"gh_n, h_prev, dh and dh_direct must all be ({n}, {H})")
    for r in prange(n, nogil=True, schedule='static', num_threads=num_threads):
        _gru_row_backward(&rzn[r, 0], &gh_n[r, 0], &h_prev[r, 0], &dh[r, 0],
                          &d_projected[r, 0], &d_recurrent[r, 0], &dh_direct[r, 0], H)


cdef void _gru_row_backward(const floating* rzn, const floating* gh_n, const floating* h_prev,
                            const floating* dh, floating* dgi, floating* dgh,
                            floating* dh_direct, Py_ssize_t H) noexcept nogil:
    """dn = dh (1 - z) (1 - n^2), dr = dn gh_n r (1 - r), dz = dh (h_prev - n) z (1 - z);
    the input projection's gradient is (dr, dz, dn), the recurrent one's (dr, dz, dn r)."""
    cdef Py_ssize_t j
    for j in range(H):  # new gate
        dgi[2 * H + j] = dh[j] * (1 - rzn[H + j]) * (1 - rzn[2 * H + j] * rzn[2 * H + j])
    for j in range(H):
        dgh[2 * H + j] = dgi[2 * H + j] * rzn[j]
    for j in range(H):  # reset gate
        dgi[j] = dgi[2 * H + j] * gh_n[j] * rzn[j] * (1 - rzn[j])
    for j in range(H):  # update gate
        dgi[H + j] = dh[j] * (h_prev[j] - rzn[2 * H + j]) * rzn[H + j] * (1 - rzn[H + j])
    for j in range(2 * H):
        dgh[j] = dgi[j]
    for j in range(H):
        dh_direct[j] = dh[j] * rzn[H + j]
