"""Activation ops: forward/backward pairs on the Cython kernels of cylayers._kernels.activation.

Core ops, like arith and pointwise: Tensor.relu, torch.sigmoid and F.relu all land here.
nn.functional.activation adds PyTorch's argument checks and the in-place forms."""
import math

import numpy as np

from cylayers._kernels import activation as _kernel_module
from cylayers._tensor_base import _norm_dim
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import (c_array, float_input, grad_like, named_kernels, run_unary,
                                   run_unary_backward, thread_rows)

K = named_kernels(_kernel_module)

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
        return 1, 1, math.prod(shape)
    return shape[0], channels, math.prod(shape[2:])


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
    last = len(shape) - 1
    if type(dim) is int and (dim == last or dim == -1) and last >= 0 and shape[last]:
        # the usual last axis
        return math.prod(shape) // shape[last], shape[last], 1
    d = _norm_dim(dim, len(shape))
    outer = math.prod(shape[:d]) if shape else 1
    size = shape[d] if shape else 1
    inner = math.prod(shape[d + 1:]) if shape else 1
    return outer, size, inner


class SoftmaxFn(Function):
    def name(self):
        return "LogSoftmaxBackward0" if getattr(self, "log_output", False) else \
            "SoftmaxBackward0"

    @staticmethod
    def forward(ctx, x, dim, log_output):
        xc = float_input(x, "log_softmax" if log_output else "softmax")
        outer, size, inner = _softmax_layout(xc.shape, dim)
        nt = threads_for(xc.size) if outer > 1 else 1
        out = np.empty_like(xc)
        if inner == 1:
            K.softmax_rows_forward(xc.reshape(-1), out.reshape(-1), size, log_output, nt)
        else:
            K.softmax_forward(xc.reshape(-1), out.reshape(-1), thread_rows(nt, 2 * inner),
                              outer, size, inner, log_output, nt)
        if ctx.needs_input_grad[0]:
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
        if inner == 1:
            K.softmax_rows_backward(g.reshape(-1), y.reshape(-1), gi.reshape(-1), size,
                                    ctx.log_output, nt)
        else:
            K.softmax_backward(g.reshape(-1), y.reshape(-1), gi.reshape(-1),
                               thread_rows(nt, inner), outer, size, inner, ctx.log_output, nt)
        return gi, None, None
