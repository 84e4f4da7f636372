"""Activation ops: forward/backward pairs on the Cython kernels of cylayers._kernels.activation."""
import numpy as np

from cylayers._kernels import activation as _kernel_module
from cylayers._tensor import _norm_dim
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import (c_array, float_input, grad_like, named_kernels, run_unary,
                                   run_unary_backward)

K = named_kernels(_kernel_module)

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _apply(fn_cls, input, inplace, *params):
    if inplace:
        return fn_cls.apply_inplace(input, *params)
    return fn_cls.apply(input, *params)


# ---------------------------------------------------------------- elementwise ops
class ElementwiseFn(Function):
    """An activation computed elementwise by the kernels ``<kernel>_forward(x, out, *params)``
    and ``<kernel>_backward(grad, saved, grad_in, *params)``. The derivative is read from the
    output where it can be (``saves_output``), so the graph need not keep the input alive; an
    op that runs in place and needs its input saves a copy first (the input is overwritten)."""
    kernel = None
    # True, False, or a function of the op's parameters.
    saves_output = False

    @staticmethod
    def backward_params(params, from_output):
        """What the backward kernel takes after ``saved`` (by default, forward's parameters)."""
        return params

    @staticmethod
    def forward(ctx, x, *params):
        op = type(ctx)
        keep = ctx.needs_input_grad[0]
        if keep:
            from_output = (op.saves_output if isinstance(op.saves_output, bool)
                           else op.saves_output(*params))
            ctx.params = op.backward_params(params, from_output)
            if not from_output:  # copied before an in-place forward overwrites it
                ctx.save_for_backward(x.copy() if ctx.out is not None else x)
        out = run_unary(ctx, getattr(K, op.kernel + "_forward"), x, op.kernel, *params)
        if keep and from_output:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        kernel = getattr(K, type(ctx).kernel + "_backward")
        gi = run_unary_backward(kernel, g, ctx.saved_tensors[0], *ctx.params)
        return (gi,) + (None,) * (len(ctx.needs_input_grad) - 1)  # none for the parameters


class ReLUFn(ElementwiseFn):
    kernel, saves_output = "relu", True


class SigmoidFn(ElementwiseFn):
    kernel, saves_output = "sigmoid", True


class TanhFn(ElementwiseFn):
    kernel, saves_output = "tanh", True


class HardtanhFn(ElementwiseFn):
    # strictly inside (min, max) <=> the input strictly inside
    kernel, saves_output = "hardtanh", True


class LeakyReLUFn(ElementwiseFn):
    kernel = "leaky_relu"

    @staticmethod
    def saves_output(slope):
        return slope > 0  # then the output has the input's sign


class ELUFn(ElementwiseFn):
    """ELU, SELU and CELU: scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1))."""
    kernel = "elu"

    @staticmethod
    def saves_output(alpha, scale, input_scale):
        return alpha >= 0  # then the output determines the derivative

    @staticmethod
    def backward_params(params, from_output):
        return params + (from_output,)


class GELUFn(ElementwiseFn):
    kernel = "gelu"


class SiLUFn(ElementwiseFn):
    kernel = "silu"


class HardsigmoidFn(ElementwiseFn):
    kernel = "hardsigmoid"


class HardswishFn(ElementwiseFn):
    kernel = "hardswish"


class SoftplusFn(ElementwiseFn):
    kernel = "softplus"


class MishFn(ElementwiseFn):
    kernel = "mish"


# ---------------------------------------------------------------- PReLU
def _prelu_layout(shape, n_weight):
    ndim = len(shape)
    channels = shape[1] if ndim >= 2 else 1  # a 1-D input is one channel, as in PyTorch
    if n_weight != 1 and n_weight != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n_weight} and channel size = {channels}.")
    if ndim < 2:
        return 1, 1, int(np.prod(shape))
    return shape[0], channels, int(np.prod(shape[2:]))


class PReLUFn(Function):
    @staticmethod
    def forward(ctx, x, weight):
        if weight.ndim != 1:
            raise RuntimeError(f"prelu: weight must be 1-D, got {weight.ndim}-D")
        xc = float_input(x, "prelu")
        w = c_array(weight, dtype=xc.dtype)
        outer, channels, inner = _prelu_layout(xc.shape, w.shape[0])
        out = np.empty_like(xc)
        K.prelu_forward(xc.reshape(-1), w, out.reshape(-1), channels, inner,
                        threads_for(xc.size))
        ctx.layout = (outer, channels, inner)
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        xc = c_array(x)
        w = c_array(weight, dtype=xc.dtype)
        g = grad_like(g, xc)
        outer, channels, inner = ctx.layout
        gx = np.empty_like(xc)
        row_gw = np.zeros(outer * channels)
        K.prelu_backward(g.reshape(-1), xc.reshape(-1), w, gx.reshape(-1), row_gw, channels,
                         inner, threads_for(xc.size))
        gw = row_gw.reshape(outer, channels).sum(axis=0)
        if weight.shape[0] == 1:
            gw = gw.sum(keepdims=True)
        return gx, gw.astype(weight.dtype)


# ---------------------------------------------------------------- softmax family
def _softmax_layout(shape, dim):
    d = _norm_dim(dim, len(shape))
    outer = int(np.prod(shape[:d])) if shape else 1
    size = shape[d] if shape else 1
    inner = int(np.prod(shape[d + 1:])) if shape else 1
    return outer, size, inner


class SoftmaxFn(Function):
    @staticmethod
    def forward(ctx, x, dim, log_output):
        xc = float_input(x, "log_softmax" if log_output else "softmax")
        outer, size, inner = _softmax_layout(xc.shape, dim)
        nt = threads_for(xc.size) if outer > 1 else 1
        out = np.empty_like(xc)
        scratch = np.empty((nt, 2 * inner if inner > 1 else 0), dtype=np.float64)
        K.softmax_forward(xc.reshape(-1), out.reshape(-1), scratch, outer, size, inner,
                          log_output, nt)
        ctx.layout, ctx.log_output = (outer, size, inner), log_output
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        g = grad_like(g, y)
        outer, size, inner = ctx.layout
        nt = threads_for(y.size) if outer > 1 else 1
        gi = np.empty_like(y)
        scratch = np.empty((nt, inner), dtype=np.float64)
        K.softmax_backward(g.reshape(-1), y.reshape(-1), gi.reshape(-1), scratch, outer, size,
                           inner, ctx.log_output, nt)
        return gi, None, None


# ---------------------------------------------------------------- functional API
def relu(input, inplace=False):
    return _apply(ReLUFn, input, inplace)


def relu_(input):
    return relu(input, inplace=True)


def sigmoid(input, inplace=False):
    return _apply(SigmoidFn, input, inplace)


def tanh(input, inplace=False):
    return _apply(TanhFn, input, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply(HardtanhFn, input, inplace, float(min_val), float(max_val))


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace and negative_slope <= 0 and input.requires_grad:
        raise RuntimeError("In-place leakyReLu backward calculation is triggered with a "
                           "non-positive slope which is not supported. This is caused by "
                           "calling in-place forward function with a non-positive slope, "
                           "please call out-of-place version instead.")
    return _apply(LeakyReLUFn, input, inplace, float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    if inplace and alpha < 0 and input.requires_grad:
        raise RuntimeError("In-place elu backward calculation is triggered with a negative "
                           "slope which is not supported.")
    return _apply(ELUFn, input, inplace, float(alpha), 1.0, 1.0)


def selu(input, inplace=False):
    return _apply(ELUFn, input, inplace, SELU_ALPHA, SELU_SCALE, 1.0)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise ValueError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _apply(ELUFn, input, inplace, float(alpha), 1.0, 1.0 / alpha)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return GELUFn.apply(input, approximate == "tanh")


def silu(input, inplace=False):
    return _apply(SiLUFn, input, inplace)


def hardsigmoid(input, inplace=False):
    return _apply(HardsigmoidFn, input, inplace)


def hardswish(input, inplace=False):
    return _apply(HardswishFn, input, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    return SoftplusFn.apply(input, float(beta), float(threshold))


def mish(input, inplace=False):
    return _apply(MishFn, input, inplace)


def prelu(input, weight):
    return PReLUFn.apply(input, weight)


def _softmax_common(input, dim, dtype, log_output, name):
    if dim is None:
        raise ValueError(f"{name}: dim must be given explicitly (e.g. dim=1); cylayers does not "
                         "guess the dimension")
    if dtype is not None:
        input = input.type(dtype)
    return SoftmaxFn.apply(input, dim, log_output)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_common(input, dim, dtype, False, "softmax")


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_common(input, dim, dtype, True, "log_softmax")


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.type(dtype)
    return _softmax_common(-input, dim, None, False, "softmin")
