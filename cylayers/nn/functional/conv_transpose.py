"""Transposed convolutions (F.conv_transpose1d/2d/3d): the adjoint of a convolution.

A transposed convolution of x with weight W is the input-gradient of the convolution whose
output has x's shape: forward scatters W^T x back through col2im; its input-gradient is that
convolution's forward, and its weight-gradient that convolution's weight-gradient with the
roles of input and output exchanged. So it runs on the same im2col/col2im kernels and
products as the convolution (cylayers/nn/functional/conv.py)."""
import numpy as np

from cylayers._kernel_call import c_array, float_input, grad_like, optional_array
from cylayers.autograd.function import Function
from cylayers.nn.functional.conv import (ConvFn, ConvGeometry, _im2col_backward, channel_sums,
                                         ntuple)
from cylayers._threads import threads_for


class _Step:
    """What the convolution's helpers read from a ctx: geometry, groups, which gradients,
    kept columns; a forward run through them saves nothing."""

    def __init__(self, geom, groups, needs):
        self.geom, self.groups, self.needs_input_grad = geom, groups, needs
        self.cols = None

    def save_for_backward(self, *arrays):
        pass


class ConvTransposeFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, geom, groups):
        xc = float_input(x, "conv_transpose")
        w = c_array(weight, dtype=xc.dtype)
        n, c_in = xc.shape[:2]
        c_out = w.shape[1] * groups
        L = int(np.prod(xc.shape[2:]))
        out_shape = (n, c_out) + geom.in3[3 - geom.nd:]
        # the convolution's input, for its shape only: col2im writes every element
        placeholder = np.empty(out_shape, dtype=xc.dtype)
        out, _ = _im2col_backward(_Step(geom, groups, (True, False)), placeholder, w,
                                  xc.reshape(n, c_in, L))
        if bias is not None:
            out += optional_array(bias, xc.dtype).reshape((1, c_out) + (1,) * geom.nd)
        ctx.geom, ctx.groups = geom, groups
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        xc = c_array(x)
        w = c_array(weight, dtype=xc.dtype)
        g = grad_like(g, xc)
        n, c_in = xc.shape[:2]
        c_out = g.shape[1]
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if need_x:  # the convolution of the output's gradient
            dx = ConvFn.forward(_Step(ctx.geom, ctx.groups, (False, False, False)), g, w, None,
                                ctx.geom, ctx.groups)
        if need_w:  # the convolution's weight gradient, with input and output exchanged
            _, dw = _im2col_backward(_Step(ctx.geom, ctx.groups, (False, True)), g, w,
                                     xc.reshape(n, c_in, -1))
        if need_b:
            positions = int(np.prod(g.shape[2:]))
            db = channel_sums(g.reshape(n, c_out, positions), n, c_out, positions,
                              threads_for(g.size))
        return dx, dw, db, None, None


def output_size(in_spatial, kernel, stride, padding, output_padding, dilation):
    return tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, k, s, p, op, d in
                 zip(in_spatial, kernel, stride, padding, output_padding, dilation))


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    name = f"conv_transpose{nd}d"
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(input.shape)}")
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: expected a {nd + 2}D weight, got {weight.ndim}D")
    c_in = x.shape[1]
    if groups < 1 or c_in % groups:
        raise RuntimeError(f"{name}: groups={groups} must divide in_channels ({c_in})")
    if weight.shape[0] != c_in:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(x.shape)} to have {weight.shape[0]} channels, but got "
                           f"{c_in} channels instead")
    kernel = tuple(weight.shape[2:])
    stride = ntuple(stride, nd, "stride")
    padding = ntuple(padding, nd, "padding")
    output_padding = ntuple(output_padding, nd, "output_padding")
    dilation = ntuple(dilation, nd, "dilation")
    if any(s <= 0 for s in stride) or any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive stride or dilation is not supported")
    if any(p < 0 for p in padding) or any(p < 0 for p in output_padding):
        raise RuntimeError("negative padding is not supported")
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, "
                           f"but got output_padding={output_padding}, stride={stride}, "
                           f"dilation={dilation}")
    out_spatial = output_size(tuple(x.shape[2:]), kernel, stride, padding, output_padding,
                              dilation)
    if any(o <= 0 for o in out_spatial):
        raise RuntimeError(f"{name}: the output size {out_spatial} is not positive")
    geom = ConvGeometry(out_spatial, kernel, stride, padding, padding, dilation)
    if geom.out_spatial != tuple(x.shape[2:]):  # cannot happen for valid arguments
        raise RuntimeError(f"{name}: inconsistent geometry {geom.out_spatial} vs "
                           f"{tuple(x.shape[2:])}")
    out = ConvTransposeFn.apply(x, weight, bias, geom, groups)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 3)
