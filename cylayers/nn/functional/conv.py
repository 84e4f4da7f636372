"""Convolutions as im2col (Cython) + GEMM (cylayers._blas); 1-D and 2-D run as 3-D with unit
leading spatial dims. Backward reuses the forward's columns when they are small (at most
KEEP_COLS_BYTES) and recomputes them from x otherwise. 3x3 stride-1 2-D convolutions with enough
input channels run as Winograd F(2x2, 3x3) instead (cylayers.nn.functional.winograd), and
forwards with few taps or wide rows as a direct convolution (cylayers.nn.functional.direct_conv)
where the build has 512-bit vectors."""
import math
import numbers

import numpy as np

from cylayers import _blas as blas
from cylayers._kernels import im2col as _kernel_module
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import (c_array, float_input, grad_like, named_kernels,
                                   optional_array)
from cylayers.nn.functional.direct_conv import direct_forward, use_direct
from cylayers.nn.functional.winograd import WinogradPlan, use_winograd, winograd_backward

K = named_kernels(_kernel_module)


def ntuple(value, n, name):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value}")
    return value


def check_window_args(kernel, stride, padding, dilation, error=ValueError):
    """The window arguments' ranges, checked before any arithmetic uses them (a zero stride
    would otherwise surface as a ZeroDivisionError, a zero dilation as a message about pad)."""
    for name, values, low, what in (("kernel_size", kernel, 1, "greater than zero"),
                                    ("stride", stride, 1, "greater than zero"),
                                    ("padding", padding, 0, "non-negative"),
                                    ("dilation", dilation, 1, "greater than zero")):
        if values is not None and any(v < low for v in values):
            raise error(f"{name} must be {what}, but got {name}={tuple(values)}")


def _as3(t, fill):
    return (fill,) * (3 - len(t)) + tuple(t)


class ConvGeometry:
    """Sizes of an N-d convolution/pooling window, padded to 3-D."""

    def __init__(self, in_spatial, kernel, stride, pad_before, pad_after, dilation,
                 ceil_mode=False):
        self.nd = len(in_spatial)
        # The N-d arguments as given (exporters read them; the kernels use the 3-D forms).
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.pad_before, self.pad_after = tuple(pad_before), tuple(pad_after)
        self.ceil_mode = ceil_mode
        padded = [i + p + q for i, p, q in zip(in_spatial, pad_before, pad_after)]
        effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        if any(k > i for k, i in zip(effective, padded)):
            raise RuntimeError(
                f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                f"Kernel size: ({' x '.join(map(str, effective))}). Kernel size can't be "
                "greater than actual input size")
        self.in3 = _as3(in_spatial, 1)
        self.k3 = _as3(kernel, 1)
        self.s3 = _as3(stride, 1)
        self.p3 = _as3(pad_before, 0)
        self.d3 = _as3(dilation, 1)
        out = []
        for i, s, p, span in zip(in_spatial, stride, pad_before,
                                 (q - k for q, k in zip(padded, effective))):
            o = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (o - 1) * s >= i + p:
                o -= 1  # the last window must start inside the input or the left padding
            out.append(o)
        self.out_spatial = tuple(out)
        self.out3 = _as3(self.out_spatial, 1)

    def kernel_args(self):
        return (*self.in3, *self.k3, *self.s3, *self.p3, *self.d3, *self.out3)


# Columns up to this size are kept from forward for the weight's gradient (see ConvFn).
KEEP_COLS_BYTES = 16 << 20

# From this many output positions per image, each image gets its own product, which lands in
# the output as it is: measured as fast or faster than one wide product from 64 positions on,
# and no transposing copies of the output and its gradient. Below, the products are too thin
# and the whole batch is one block (one product per group, its output moved back to (N, O, L)).
PER_IMAGE_MIN_POSITIONS = 64


def images_per_block(n, positions):
    """B of the im2col layout (cylayers._kernels.im2col) for n images."""
    return 1 if positions >= PER_IMAGE_MIN_POSITIONS or n == 0 else n


def channel_sums(g, n, o, positions, nt):
    """A convolution's bias gradient from g (n, o, positions), summed in float64."""
    sums = np.empty(o)
    K.channel_sums(g.reshape(-1), sums, n, o, positions, nt)
    return sums.astype(g.dtype)


class ConvFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, geom, groups):
        xc = float_input(x, "conv")
        w = c_array(weight, dtype=xc.dtype)
        n, c, o = xc.shape[0], xc.shape[1], w.shape[0]
        ctx.geom, ctx.groups = geom, groups
        ctx.save_for_backward(x, weight)
        b = optional_array(bias, xc.dtype)
        winograd = use_winograd(geom, groups, c, o)
        if use_direct(geom, groups, c, winograd, any(ctx.needs_input_grad[:2])):
            ctx.winograd, ctx.cols = None, None  # backward: im2col, columns rebuilt from x
            return direct_forward(xc, w, b, geom)
        if winograd:
            plan = WinogradPlan(geom, n)
            nt = threads_for(16 * c * plan.tiles)
            u, v = plan.transform_weight(w), plan.input(xc.reshape(n, c, plan.h, plan.w), nt)
            out = plan.forward_output(v, u, b, nt)
            # backward needs U for the input's gradient and V for the weight's
            ctx.winograd = (plan, u, v if ctx.needs_input_grad[1] else None)
            return out.reshape((n, o) + geom.out_spatial)
        ctx.winograd = None
        taps = math.prod(geom.k3)
        L = math.prod(geom.out3)
        cg, og = c // groups, o // groups
        B = images_per_block(n, L)
        cols = np.empty((n // B * groups, cg * taps, B * L), dtype=xc.dtype)
        K.im2col(xc.reshape(-1), cols.reshape(-1), n, c, *geom.kernel_args(), B,
                 threads_for(cols.size))
        # (n / B, o, B * L): product i of a block uses group i % groups' weights
        out = blas.matmul(w.reshape(groups, og, cg * taps), cols)
        if B > 1 or bias is not None:
            target = out if B == 1 else np.empty((n, o, L), dtype=xc.dtype)
            K.columns_to_images(out.reshape(-1), b, target.reshape(-1), n, o, L, B,
                                threads_for(out.size))
            out = target
        # The weight's gradient needs the columns again: kept when they are small, rebuilt
        # from x in backward otherwise (memory for large inputs over time for small ones).
        ctx.cols = cols if (ctx.needs_input_grad[1] and cols.nbytes <= KEEP_COLS_BYTES) \
            else None
        return out.reshape((n, o) + geom.out_spatial)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        xc = c_array(x)
        n, o, L = xc.shape[0], weight.shape[0], math.prod(ctx.geom.out3)
        g3 = grad_like(g, xc).reshape(n, o, L)
        db = channel_sums(g3, n, o, L, threads_for(g3.size)) if ctx.needs_input_grad[2] \
            else None
        if ctx.winograd is not None:
            dx, dw = winograd_backward(ctx, g3)
        else:
            dx, dw = _im2col_backward(ctx, xc, c_array(weight, dtype=xc.dtype), g3)
        return dx, dw, db, None, None


def _im2col_backward(ctx, xc, w, g3):
    """The input's and weight's gradients of an im2col convolution; g3 is the output's
    gradient as (n, o, L)."""
    geom, groups = ctx.geom, ctx.groups
    need_x, need_w = ctx.needs_input_grad[:2]
    (n, c), (o, L) = xc.shape[:2], g3.shape[1:]
    taps = math.prod(geom.k3)
    cg, og = c // groups, o // groups
    B = images_per_block(n, L)
    nt = threads_for(n * c * taps * L)
    # The gradient in the columns' block layout: (n / B * groups, og, B * L).
    if B == 1:
        g_cols = g3.reshape(n * groups, og, L)
    else:
        g_cols = np.empty((groups, og, n * L), dtype=xc.dtype)
        K.images_to_columns(g3.reshape(-1), g_cols.reshape(-1), n, o, L, B, nt)
    dx = dw = None
    if need_w:
        cols = ctx.cols
        if cols is None:
            cols = np.empty((n // B * groups, cg * taps, B * L), dtype=xc.dtype)
            K.im2col(xc.reshape(-1), cols.reshape(-1), n, c, *geom.kernel_args(), B, nt)
        dw = blas.matmul_sum(g_cols.reshape(n // B, groups, og, B * L),
                             cols.reshape(n // B, groups, cg * taps, B * L),
                             trans_b=True).reshape(w.shape)
    if need_x:
        dcols = blas.matmul(w.reshape(groups, og, cg * taps), g_cols, trans_a=True)
        dx = np.empty_like(xc)
        K.col2im(dcols.reshape(-1), dx.reshape(-1), n, c, *geom.kernel_args(), B, nt)
    return dx, dw


def _conv(input, weight, bias, stride, padding, dilation, groups, nd):
    name = f"conv{nd}d"
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(input.shape)}")
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    c = x.shape[1]
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: expected a {nd + 2}D weight, got {weight.ndim}D")
    if groups < 1 or c % groups or weight.shape[0] % groups:
        raise RuntimeError(f"{name}: groups={groups} must divide both in_channels ({c}) and "
                           f"out_channels ({weight.shape[0]})")
    if weight.shape[1] * groups != c:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(x.shape)} to have {weight.shape[1] * groups} "
                           f"channels, but got {c} channels instead")
    kernel = tuple(weight.shape[2:])
    stride = ntuple(stride, nd, "stride")
    dilation = ntuple(dilation, nd, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if not isinstance(padding, str) and any(p < 0 for p in ntuple(padding, nd, "padding")):
        raise RuntimeError("negative padding is not supported")
    if isinstance(padding, str):
        if padding == "valid":
            before = after = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            before = tuple(t // 2 for t in total)
            after = tuple(t - b for t, b in zip(total, before))
        else:
            raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                             "{'valid', 'same'}")
    else:
        before = after = ntuple(padding, nd, "padding")
    geom = ConvGeometry(tuple(x.shape[2:]), kernel, stride, before, after, dilation)
    out = ConvFn.apply(x, weight, bias, geom, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3)
