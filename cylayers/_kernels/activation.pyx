"""Activation kernels: elementwise forward/backward pairs and softmax-family reductions.

All arrays are flat and C-contiguous; the functional layer reshapes. Backward kernels take the
saved *output* where the derivative can be written from it (relu, sigmoid, tanh, elu/selu,
softmax), so the graph need not keep the input alive.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport exp, expf, tanh, tanhf, log, logf, fabs, INFINITY

cdef extern from "cylayers/scalar_math.h" nogil:
    double cyl_sigmoid_d(double x)
    float cyl_sigmoid_f(float x)
    double cyl_elu_d(double x, double alpha, double scale, double input_scale)
    float cyl_elu_f(float x, float alpha, float scale, float input_scale)
    double cyl_softplus_d(double x, double beta, double threshold)
    float cyl_softplus_f(float x, float beta, float threshold)
    double cyl_gelu_d(double x)
    float cyl_gelu_f(float x)
    double cyl_gelu_grad_d(double x)
    float cyl_gelu_grad_f(float x)
    double cyl_gelu_tanh_d(double x)
    float cyl_gelu_tanh_f(float x)
    double cyl_gelu_tanh_grad_d(double x)
    float cyl_gelu_tanh_grad_f(float x)
    double cyl_mish_d(double x)
    float cyl_mish_f(float x)
    double cyl_mish_grad_d(double x)
    float cyl_mish_grad_f(float x)
    float cyl_tanh_fast_f(float x)
    float cyl_sigmoid_fast_f(float x)
    float cyl_expm1_fast_f(float x)
    float cyl_exp_fast_f(float x)

cdef extern from "cylayers/row_kernels.h" nogil:
    double cyl_prelu_row_backward_f(const float* g, const float* x, float* gx, Py_ssize_t n,
                                    float a)
    double cyl_prelu_row_backward_d(const double* g, const double* x, double* gx, Py_ssize_t n,
                                    double a)
    void cyl_softmax_row_f(const float* x, float* out, Py_ssize_t n, int log_output)
    void cyl_softmax_row_d(const double* x, double* out, Py_ssize_t n, int log_output)
    void cyl_softmax_row_backward_f(const float* g, const float* y, float* gx, Py_ssize_t n,
                                    int log_output)
    void cyl_softmax_row_backward_d(const double* g, const double* y, double* gx, Py_ssize_t n,
                                    int log_output)


# ---------------------------------------------------------------- ReLU / Hardtanh / LeakyReLU

def relu_forward(const floating[::1] x,   # IN
                 floating[::1] out,       # OUT (may alias x for inplace)
                 int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        # "x <= 0 ? 0 : x" rather than max(): NaN must propagate, as in PyTorch.
        out[i] = 0 if x[i] <= 0 else x[i]


def relu_backward(const floating[::1] grad,  # IN
                  const floating[::1] y,     # IN  saved output
                  floating[::1] grad_in,     # OUT
                  int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        grad_in[i] = grad[i] if y[i] > 0 else 0


def hardtanh_forward(const floating[::1] x, floating[::1] out, double min_val, double max_val,
                     int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating lo = <floating>min_val, hi = <floating>max_val, v
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        v = x[i]
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
        out[i] = v


def hardtanh_backward(const floating[::1] grad, const floating[::1] x, floating[::1] grad_in,
                      double min_val, double max_val, int num_threads):
    """x may be the input or the (clamped) output: the open interval test gives the same mask."""
    cdef Py_ssize_t i, n = grad.shape[0]
    cdef floating lo = <floating>min_val, hi = <floating>max_val
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        grad_in[i] = grad[i] if (x[i] > lo and x[i] < hi) else 0


def leaky_relu_forward(const floating[::1] x, floating[::1] out, double negative_slope,
                       int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating slope = <floating>negative_slope
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        out[i] = x[i] if x[i] > 0 else x[i] * slope


def leaky_relu_backward(const floating[::1] grad, const floating[::1] x, floating[::1] grad_in,
                        double negative_slope, int num_threads):
    """x may be the output when negative_slope > 0: the sign is the same."""
    cdef Py_ssize_t i, n = grad.shape[0]
    cdef floating slope = <floating>negative_slope
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        grad_in[i] = grad[i] if x[i] > 0 else grad[i] * slope


# ---------------------------------------------------------------- Sigmoid / Tanh

def sigmoid_forward(const floating[::1] x, floating[::1] out, int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            out[i] = cyl_sigmoid_fast_f(x[i])
        else:
            out[i] = cyl_sigmoid_d(x[i])


def sigmoid_backward(const floating[::1] grad, const floating[::1] y, floating[::1] grad_in,
                     int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        grad_in[i] = grad[i] * y[i] * (1 - y[i])


def tanh_forward(const floating[::1] x, floating[::1] out, int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            out[i] = cyl_tanh_fast_f(x[i])
        else:
            out[i] = tanh(x[i])


def tanh_backward(const floating[::1] grad, const floating[::1] y, floating[::1] grad_in,
                  int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        grad_in[i] = grad[i] * (1 - y[i] * y[i])


# ---------------------------------------------------------------- ELU family (ELU, SELU, CELU)

def elu_forward(const floating[::1] x, floating[::1] out, double alpha, double scale,
                double input_scale, int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating a = <floating>alpha, s = <floating>scale, si = <floating>input_scale, v
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        v = x[i]
        if floating is float:
            out[i] = s * v if v > 0 else s * a * cyl_expm1_fast_f(si * v)
        else:
            out[i] = cyl_elu_d(v, a, s, si)


def elu_backward(const floating[::1] grad, const floating[::1] saved, floating[::1] grad_in,
                 double alpha, double scale, double input_scale, bint is_result,
                 int num_threads):
    """From the output (is_result, needs alpha > 0) or from the input."""
    cdef Py_ssize_t i, n = grad.shape[0]
    cdef floating a = <floating>alpha, s = <floating>scale, si = <floating>input_scale, v
    cdef floating sa = s * a
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        v = saved[i]
        if v > 0:
            grad_in[i] = grad[i] * s
        elif is_result:
            grad_in[i] = grad[i] * si * (v + sa)
        else:
            if floating is float:
                grad_in[i] = grad[i] * si * sa * cyl_exp_fast_f(si * v)
            else:
                grad_in[i] = grad[i] * si * sa * exp(si * v)


# ---------------------------------------------------------------- smooth activations

def gelu_forward(const floating[::1] x, floating[::1] out, bint tanh_approx, int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            out[i] = cyl_gelu_tanh_f(x[i]) if tanh_approx else cyl_gelu_f(x[i])
        else:
            out[i] = cyl_gelu_tanh_d(x[i]) if tanh_approx else cyl_gelu_d(x[i])


def gelu_backward(const floating[::1] grad, const floating[::1] x, floating[::1] grad_in,
                  bint tanh_approx, int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            grad_in[i] = grad[i] * (cyl_gelu_tanh_grad_f(x[i]) if tanh_approx
                                    else cyl_gelu_grad_f(x[i]))
        else:
            grad_in[i] = grad[i] * (cyl_gelu_tanh_grad_d(x[i]) if tanh_approx
                                    else cyl_gelu_grad_d(x[i]))


def silu_forward(const floating[::1] x, floating[::1] out, int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            out[i] = x[i] * cyl_sigmoid_fast_f(x[i])
        else:
            out[i] = x[i] * cyl_sigmoid_d(x[i])


def silu_backward(const floating[::1] grad, const floating[::1] x, floating[::1] grad_in,
                  int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    cdef floating s
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            s = cyl_sigmoid_fast_f(x[i])
        else:
            s = cyl_sigmoid_d(x[i])
        grad_in[i] = grad[i] * s * (1 + x[i] * (1 - s))


def hardsigmoid_forward(const floating[::1] x, floating[::1] out, int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        v = x[i]
        # Tests that NaN fails fall through to the formula, so NaN propagates as in PyTorch.
        if v <= -3:
            out[i] = 0
        elif v >= 3:
            out[i] = 1
        else:
            out[i] = (v + <floating>3) / <floating>6  # PyTorch rounds in this order


def hardsigmoid_backward(const floating[::1] grad, const floating[::1] x,
                         floating[::1] grad_in, int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        # PyTorch's rule: zero at the corners x = -3 and x = 3.
        grad_in[i] = grad[i] * (<floating>1 / <floating>6) if (x[i] > -3 and x[i] < 3) else 0


def hardswish_forward(const floating[::1] x, floating[::1] out, int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, c
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        v = x[i]
        # PyTorch's x * clamp(x + 3, 0, 6) / 6 term by term, for its rounding (x * 6 / 6 may
        # differ from x in the last bit) and its -0.0; NaN fails both tests and propagates.
        c = v + <floating>3
        if c < 0:
            c = 0
        elif c > 6:
            c = 6
        out[i] = v * c / <floating>6


def hardswish_backward(const floating[::1] grad, const floating[::1] x,
                       floating[::1] grad_in, int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    cdef floating v
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        v = x[i]
        # PyTorch's rule at the corners: 0 at x = -3, 1 at x = 3 (NaN takes the last branch).
        if v <= -3:
            grad_in[i] = 0
        elif v < 3:
            grad_in[i] = grad[i] * (v / <floating>3 + <floating>0.5)
        else:
            grad_in[i] = grad[i]


def softplus_forward(const floating[::1] x, floating[::1] out, double beta, double threshold,
                     int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            out[i] = cyl_softplus_f(x[i], <float>beta, <float>threshold)
        else:
            out[i] = cyl_softplus_d(x[i], beta, threshold)


def softplus_backward(const floating[::1] grad, const floating[::1] x, floating[::1] grad_in,
                      double beta, double threshold, int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    cdef floating bx
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        bx = <floating>beta * x[i]
        if bx > threshold:
            grad_in[i] = grad[i]
        elif floating is float:
            grad_in[i] = grad[i] * cyl_sigmoid_f(bx)
        else:
            grad_in[i] = grad[i] * cyl_sigmoid_d(bx)


def mish_forward(const floating[::1] x, floating[::1] out, int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            out[i] = cyl_mish_f(x[i])
        else:
            out[i] = cyl_mish_d(x[i])


def mish_backward(const floating[::1] grad, const floating[::1] x, floating[::1] grad_in,
                  int num_threads):
    cdef Py_ssize_t i, n = grad.shape[0]
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            grad_in[i] = grad[i] * cyl_mish_grad_f(x[i])
        else:
            grad_in[i] = grad[i] * cyl_mish_grad_d(x[i])


# ---------------------------------------------------------------- PReLU

def prelu_forward(const floating[::1] x,       # IN  (outer, channels, inner) flattened
                  const floating[::1] weight,  # IN  (channels,) or (1,)
                  floating[::1] out,           # OUT
                  Py_ssize_t channels, Py_ssize_t inner, int num_threads):
    cdef Py_ssize_t row, k, base, n_rows = x.shape[0] // inner if inner > 0 else 0
    cdef bint shared = weight.shape[0] == 1
    cdef floating a, v
    # One row = one (sample, channel) pair: the weight is fixed along the contiguous inner axis.
    for row in prange(n_rows, nogil=True, schedule='static', num_threads=num_threads,
                      use_threads_if=num_threads > 1):
        a = weight[0] if shared else weight[row % channels]
        base = row * inner
        for k in range(inner):
            v = x[base + k]
            out[base + k] = v if v > 0 else a * v


def prelu_backward(const floating[::1] grad,    # IN
                   const floating[::1] x,       # IN
                   const floating[::1] weight,  # IN
                   floating[::1] grad_in,       # OUT
                   double[::1] row_weight_grad, # OUT per (sample, channel) row, float64
                   Py_ssize_t channels, Py_ssize_t inner, int num_threads):
    """One (sample, channel) row per iteration; each row's weight-gradient sum goes to its own
    slot (summed per channel by the caller), so no two threads ever add into the same place."""
    cdef Py_ssize_t row, o, n_rows = row_weight_grad.shape[0]
    cdef bint shared = weight.shape[0] == 1
    cdef floating a
    if inner == 0:
        return
    for row in prange(n_rows, nogil=True, schedule='static', num_threads=num_threads,
                      use_threads_if=num_threads > 1):
        a = weight[0] if shared else weight[row % channels]
        o = row * inner
        if floating is float:
            row_weight_grad[row] = cyl_prelu_row_backward_f(&grad[o], &x[o], &grad_in[o], inner, a)
        else:
            row_weight_grad[row] = cyl_prelu_row_backward_d(&grad[o], &x[o], &grad_in[o], inner, a)


# ---------------------------------------------------------------- softmax / log_softmax

def softmax_forward(const floating[::1] x,     # IN  (outer, dim, inner) flattened
                    floating[::1] out,         # OUT
                    double[:, ::1] scratch,    # scratch: (num_threads, 2 * inner) when inner > 1
                    Py_ssize_t outer, Py_ssize_t dim, Py_ssize_t inner, bint log_output,
                    int num_threads):
    """Max-subtracted softmax with a float64 running sum, over the middle axis."""
    cdef Py_ssize_t o, d, k, base, idx
    cdef int tid
    cdef double m, s, v
    if inner == 1:
        if outer == 0 or dim == 0:
            return
        for o in prange(outer, nogil=True, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1):
            if floating is float:
                cyl_softmax_row_f(&x[o * dim], &out[o * dim], dim, log_output)
            else:
                cyl_softmax_row_d(&x[o * dim], &out[o * dim], dim, log_output)
        return
    # Strided case: walk the reduced axis in the outer loop so the inner axis stays contiguous,
    # with one column of running max / sum per inner position in this thread's scratch row.
    for o in prange(outer, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        tid = threadid()
        base = o * dim * inner
        for k in range(inner):
            scratch[tid, k] = -INFINITY
            scratch[tid, inner + k] = 0
        for d in range(dim):
            for k in range(inner):
                v = x[base + d * inner + k]
                if v > scratch[tid, k] or v != v:
                    scratch[tid, k] = v
        for d in range(dim):
            for k in range(inner):
                idx = base + d * inner + k
                v = exp(x[idx] - scratch[tid, k])
                scratch[tid, inner + k] += v
                if not log_output:
                    out[idx] = <floating>v
        for k in range(inner):
            if log_output:
                scratch[tid, inner + k] = log(scratch[tid, inner + k])
            else:
                scratch[tid, inner + k] = 1.0 / scratch[tid, inner + k]
        for d in range(dim):
            for k in range(inner):
                idx = base + d * inner + k
                if log_output:
                    out[idx] = <floating>(x[idx] - scratch[tid, k] - scratch[tid, inner + k])
                else:
                    out[idx] = <floating>(out[idx] * scratch[tid, inner + k])


def softmax_backward(const floating[::1] grad,  # IN
                     const floating[::1] y,     # IN  saved output (softmax or log_softmax)
                     floating[::1] grad_in,     # OUT
                     double[:, ::1] scratch,    # scratch: (num_threads, inner)
                     Py_ssize_t outer, Py_ssize_t dim, Py_ssize_t inner, bint log_output,
                     int num_threads):
    """softmax: gx = y * (g - sum(g*y));  log_softmax: gx = g - exp(y) * sum(g)."""
    cdef Py_ssize_t o, d, k, base, idx
    cdef int tid
    if inner == 1:
        if outer == 0 or dim == 0:
            return
        for o in prange(outer, nogil=True, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1):
            if floating is float:
                cyl_softmax_row_backward_f(&grad[o * dim], &y[o * dim], &grad_in[o * dim], dim,
                                           log_output)
            else:
                cyl_softmax_row_backward_d(&grad[o * dim], &y[o * dim], &grad_in[o * dim], dim,
                                           log_output)
        return
    for o in prange(outer, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        tid = threadid()
        base = o * dim * inner
        for k in range(inner):
            scratch[tid, k] = 0
        for d in range(dim):
            for k in range(inner):
                idx = base + d * inner + k
                if log_output:
                    scratch[tid, k] += grad[idx]
                else:
                    scratch[tid, k] += <double>grad[idx] * y[idx]
        for d in range(dim):
            for k in range(inner):
                idx = base + d * inner + k
                if log_output:
                    if floating is float:
                        grad_in[idx] = <floating>(grad[idx]
                                                  - cyl_exp_fast_f(y[idx]) * scratch[tid, k])
                    else:
                        grad_in[idx] = <floating>(grad[idx] - exp(y[idx]) * scratch[tid, k])
                else:
                    grad_in[idx] = <floating>(y[idx] * (grad[idx] - scratch[tid, k]))
