"""Convolutions as im2col (Cython) + GEMM (cylayers._blas); 1-D and 2-D run as 3-D with unit
leading spatial dims. Backward reuses the forward's columns when they are small (at most
KEEP_COLS_BYTES) and recomputes them from x otherwise. 3x3 stride-1 2-D convolutions with enough
input channels run as Winograd F(2x2, 3x3) instead (cylayers.nn.functional.winograd)."""
import math
import numbers

import numpy as np

from cylayers import _blas as blas
from cylayers._kernels import im2col as _kernel_module
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import c_array, float_input, grad_like, named_kernels
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


class ConvFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, geom, groups):
        xc = float_input(x, "conv")
        w = c_array(weight, dtype=xc.dtype)
        n, c, o = xc.shape[0], xc.shape[1], w.shape[0]
        ctx.geom, ctx.groups = geom, groups
        ctx.save_for_backward(x, weight)
        if use_winograd(geom, groups, c, o):
            plan = WinogradPlan(geom, n)
            nt = threads_for(16 * c * plan.tiles)
            u, v = plan.transform_weight(w), plan.input(xc.reshape(n, c, plan.h, plan.w), nt)
            out = plan.output(blas.matmul(u, v), nt)  # (16, o, tiles) products -> outputs
            if bias is not None:
                out += bias.reshape(1, o, 1, 1).astype(xc.dtype, copy=False)
            # backward needs U for the input's gradient and V for the weight's
            ctx.winograd = (plan, u, v if ctx.needs_input_grad[1] else None)
            return out.reshape((n, o) + geom.out_spatial)
        ctx.winograd = None
        taps = math.prod(geom.k3)
        L = math.prod(geom.out3)
        cg, og = c // groups, o // groups
        cols = np.empty((groups, cg * taps, n * L), dtype=xc.dtype)
        K.im2col(xc.reshape(-1), cols.reshape(-1), n, c, *geom.kernel_args(),
                 threads_for(cols.size))
        prod = blas.matmul(w.reshape(groups, og, cg * taps), cols)  # (groups, og, n*L)
        # Back to (n, o, L): a transposing copy, then the bias on contiguous rows (measured
        # faster than one strided add).
        out = c_array(prod.reshape(o, n, L).transpose(1, 0, 2))
        if bias is not None:
            out += bias.reshape(1, o, 1).astype(xc.dtype, copy=False)
        # The weight's gradient needs the columns again: kept when they are small, rebuilt
        # from x in backward otherwise (memory for large inputs over time for small ones).
        ctx.cols = cols if (ctx.needs_input_grad[1] and cols.nbytes <= KEEP_COLS_BYTES) \
            else None
        return out.reshape((n, o) + geom.out_spatial)

    @staticmethod
    def backward(ctx, g):
        if ctx.winograd is not None:
            return winograd_backward(ctx, g)
        x, weight = ctx.saved_tensors
        geom, groups = ctx.geom, ctx.groups
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xc = c_array(x)
        w = c_array(weight, dtype=xc.dtype)
        n, c, o = xc.shape[0], xc.shape[1], w.shape[0]
        taps = math.prod(geom.k3)
        L = math.prod(geom.out3)
        cg, og = c // groups, o // groups
        g3 = grad_like(g, xc).reshape(n, o, L)
        # The gradient with the batch inside the columns, matching the cols layout.
        g_cols = c_array(g3.transpose(1, 0, 2)).reshape(groups, og, n * L)
        nt = threads_for(n * c * taps * L)
        dx = dw = db = None
        if need_w:
            cols = ctx.cols
            if cols is None:
                cols = np.empty((groups, cg * taps, n * L), dtype=xc.dtype)
                K.im2col(xc.reshape(-1), cols.reshape(-1), n, c, *geom.kernel_args(), nt)
            dw = blas.matmul(g_cols, cols, trans_b=True).reshape(weight.shape)
        if need_b:
            db = g_cols.reshape(o, n * L).sum(axis=1)
        if need_x:
            dcols = blas.matmul(w.reshape(groups, og, cg * taps), g_cols, trans_a=True)
            dx = np.empty_like(xc)
            K.col2im(c_array(dcols).reshape(-1), dx.reshape(-1), n, c,
                     *geom.kernel_args(), nt)
        return dx, dw, db, None, None


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
