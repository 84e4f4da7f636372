"""Max, average and adaptive-average pooling ops on cylayers._kernels.pooling."""
import math

import numpy as np

from cylayers._kernels import pooling as _kernel_module
from cylayers._ops import untaped
from cylayers._tensor import Tensor
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import c_array, float_input, named_kernels
from cylayers.nn.functional.conv import ConvGeometry, check_window_args, ntuple

K = named_kernels(_kernel_module)


def _batched(input, nd, name):
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D input, but got "
                           f"{input.ndim}D input of size {list(input.shape)}")
    return input.ndim == nd + 1


def _planes(shape, nd):
    return math.prod(shape[:-nd])


class MaxPoolFn(Function):
    @staticmethod
    def forward(ctx, x, geom):
        xc = float_input(x, "max_pool")
        planes = _planes(xc.shape, geom.nd)
        out = np.empty(xc.shape[:-geom.nd] + geom.out_spatial, dtype=xc.dtype)
        idx = np.empty(out.shape, dtype=np.int64)
        K.max_pool_forward(xc.reshape(-1), out.reshape(-1), idx.reshape(-1), planes,
                           *geom.kernel_args(), threads_for(out.size * math.prod(geom.k3)))
        ctx.geom, ctx.in_shape, ctx.indices = geom, xc.shape, idx
        return out

    @staticmethod
    def backward(ctx, g):
        geom = ctx.geom
        dx = np.empty(ctx.in_shape, dtype=g.dtype)
        planes = _planes(ctx.in_shape, geom.nd)
        g = c_array(g)
        K.max_pool_backward(g.reshape(-1), ctx.indices.reshape(-1), dx.reshape(-1), planes,
                            math.prod(geom.in3), math.prod(geom.out3), threads_for(dx.size))
        return dx, None


class AvgPoolFn(Function):
    @staticmethod
    def forward(ctx, x, geom, count_include_pad, divisor_override):
        xc = float_input(x, "avg_pool")
        planes = _planes(xc.shape, geom.nd)
        out = np.empty(xc.shape[:-geom.nd] + geom.out_spatial, dtype=xc.dtype)
        args = (planes, *geom.in3, *geom.k3, *geom.s3, *geom.p3, *geom.out3,
                count_include_pad, divisor_override or 0)
        K.avg_pool(xc.reshape(-1), out.reshape(-1), False, *args,
                   threads_for(out.size * math.prod(geom.k3)))
        ctx.args, ctx.in_shape = args, xc.shape
        return out

    @staticmethod
    def backward(ctx, g):
        dx = np.empty(ctx.in_shape, dtype=g.dtype)
        K.avg_pool(c_array(g).reshape(-1), dx.reshape(-1), True, *ctx.args,
                   threads_for(dx.size))
        return dx, None, None, None


class AdaptiveAvgPoolFn(Function):
    @staticmethod
    def forward(ctx, x, out_spatial):
        xc = float_input(x, "adaptive_avg_pool")
        nd = len(out_spatial)
        planes = _planes(xc.shape, nd)
        in3 = (1,) * (3 - nd) + xc.shape[-nd:]
        out3 = (1,) * (3 - nd) + out_spatial
        out = np.empty(xc.shape[:-nd] + out_spatial, dtype=xc.dtype)
        K.adaptive_avg_pool(xc.reshape(-1), out.reshape(-1), False, planes, *in3, *out3,
                            threads_for(xc.size))
        ctx.args, ctx.in_shape = (planes, *in3, *out3), xc.shape
        return out

    @staticmethod
    def backward(ctx, g):
        dx = np.empty(ctx.in_shape, dtype=g.dtype)
        K.adaptive_avg_pool(c_array(g).reshape(-1), dx.reshape(-1), True,
                            *ctx.args, threads_for(dx.size))
        return dx, None


def _window(input, nd, name, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = ntuple(kernel_size, nd, "kernel_size")
    stride = kernel if (stride is None or stride == () or stride == []) else \
        ntuple(stride, nd, "stride")
    padding = ntuple(padding, nd, "padding")
    dilation = ntuple(dilation, nd, "dilation")
    check_window_args(kernel, stride, padding, dilation, RuntimeError)
    for p, k, d in zip(padding, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    return ConvGeometry(tuple(input.shape[-nd:]), kernel, stride, padding, padding, dilation,
                        ceil_mode)


def _max_pool(input, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    name = f"max_pool{nd}d"
    _batched(input, nd, name)
    geom = _window(input, nd, name, kernel_size, stride, padding, dilation, ceil_mode)
    out = MaxPoolFn.apply(input, geom)
    if return_indices:
        if out._node is not None:
            idx = out._node.indices
        else:  # no graph was recorded, so no ctx kept the indices: run forward on a fresh one
            ctx = MaxPoolFn()
            MaxPoolFn.forward(ctx, input._array, geom)
            idx = ctx.indices
        return out, untaped.note(untaped.MaxPoolIndices, (input, geom), Tensor._make(idx))
    return out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(input, nd, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    name = f"avg_pool{nd}d"
    _batched(input, nd, name)
    if divisor_override is not None and divisor_override <= 0:
        raise RuntimeError(f"divisor_override must be a positive integer, but got "
                           f"{divisor_override}")
    geom = _window(input, nd, name, kernel_size, stride, padding, 1, ceil_mode)
    return AvgPoolFn.apply(input, geom, count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_sizes(input, nd, output_size, name):
    """output_size as nd positive ints (an int for every dim, None keeping the input's)."""
    _batched(input, nd, name)
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * nd
    sizes = tuple(int(input.shape[-nd + i]) if s is None else int(s)
                  for i, s in enumerate(output_size))
    if len(sizes) != nd or any(s <= 0 for s in sizes):
        raise ValueError(f"{name}: output_size must be {nd} positive ints, got {output_size}")
    return sizes


def _adaptive_avg_pool(input, nd, output_size):
    sizes = _adaptive_sizes(input, nd, output_size, f"adaptive_avg_pool{nd}d")
    return AdaptiveAvgPoolFn.apply(input, sizes)


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg_pool(input, 1, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg_pool(input, 2, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_pool(input, 3, output_size)


def _adaptive_bounds(size, out):
    """PyTorch's adaptive windows: [floor(i * size / out), ceil((i + 1) * size / out))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


class AdaptiveMaxPoolFn(Function):
    """Max over PyTorch's adaptive windows; the gradient goes to each window's first maximum
    (a NaN counts as the maximum). One numpy reduction per output cell: the output is small."""

    @staticmethod
    def forward(ctx, x, out_spatial):
        nd = len(out_spatial)
        if x.dtype.kind != "f":
            raise TypeError(f"adaptive_max_pool{nd}d: expected a float32 or float64 tensor, "
                            f"but got {x.dtype}")
        in_spatial = x.shape[-nd:]
        lead = x.shape[:-nd]
        out = np.empty(lead + out_spatial, dtype=x.dtype)
        idx = np.empty(lead + out_spatial, dtype=np.int64)
        bounds = [_adaptive_bounds(s, o) for s, o in zip(in_spatial, out_spatial)]
        for cell in np.ndindex(*out_spatial):
            spans = [bounds[d][c] for d, c in enumerate(cell)]
            window = x[(Ellipsis,) + tuple(slice(lo, hi) for lo, hi in spans)]
            flat = window.reshape(lead + (-1,))
            local = np.argmax(flat, axis=-1) if flat.shape[-1] else np.zeros(lead, np.int64)
            out[(Ellipsis,) + cell] = np.take_along_axis(flat, local[..., None], -1)[..., 0]
            coords = np.unravel_index(local, tuple(hi - lo for lo, hi in spans))
            idx[(Ellipsis,) + cell] = np.ravel_multi_index(
                tuple(c + lo for c, (lo, _) in zip(coords, spans)), in_spatial)
        ctx.indices, ctx.in_shape, ctx.nd = idx, x.shape, nd
        return out

    @staticmethod
    def backward(ctx, g):
        spatial = math.prod(ctx.in_shape[-ctx.nd:])
        planes = math.prod(ctx.in_shape[:-ctx.nd])
        dx = np.zeros((planes, spatial), dtype=g.dtype)
        np.add.at(dx, (np.arange(planes)[:, None], ctx.indices.reshape(planes, -1)),
                  np.asarray(g).reshape(planes, -1))
        return dx.reshape(ctx.in_shape), None


def _adaptive_max_pool(input, nd, output_size, return_indices):
    sizes = _adaptive_sizes(input, nd, output_size, f"adaptive_max_pool{nd}d")
    if any(s == 0 for s in input.shape[-nd:]):
        raise RuntimeError(f"adaptive_max_pool{nd}d(): Expected input to have non-zero size "
                           f"for non-batch dimensions, but input has sizes "
                           f"{list(input.shape)}")
    out = AdaptiveMaxPoolFn.apply(input, sizes)
    if not return_indices:
        return out
    if out._node is not None:
        idx = out._node.indices
    else:
        ctx = AdaptiveMaxPoolFn()
        AdaptiveMaxPoolFn.forward(ctx, input._array, sizes)
        idx = ctx.indices
    return out, Tensor._make(idx)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_pool(input, 1, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_pool(input, 2, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max_pool(input, 3, output_size, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, True)


def _lp_pool(input, nd, norm_type, kernel_size, stride, ceil_mode):
    """(sum over the window of x^p) ^ (1/p), as PyTorch computes it: the average of x^p times
    the window size, with the sign kept through relu (a negative sum gives 0)."""
    kernel = ntuple(kernel_size, nd, "kernel_size")
    pool = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    out = pool(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    size = math.prod(kernel)
    return (out.sign() * out.abs().relu()).mul(size).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, 3, norm_type, kernel_size, stride, ceil_mode)
