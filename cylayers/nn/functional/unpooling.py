"""F.max_unpool1d/2d/3d: the partial inverse of max pooling. Each input value goes to the
position ``indices`` names within its (sample, channel) plane of the output (max_pool's
return_indices), every other output element is zero; the gradient reads those positions back."""
import math

import numpy as np

from cylayers._tensor import Tensor
from cylayers.autograd.function import Function
from cylayers.nn.functional.conv import ntuple


class MaxUnpoolFn(Function):
    @staticmethod
    def forward(ctx, x, indices, out_spatial):
        n, c = x.shape[:2]
        plane = math.prod(out_spatial)
        idx = np.ascontiguousarray(indices, dtype=np.int64).reshape(n * c, -1)
        if idx.size and (idx.min() < 0 or idx.max() >= plane):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                               f"{'x'.join(map(str, out_spatial))}")
        out = np.zeros((n * c, plane), dtype=x.dtype)
        np.put_along_axis(out, idx, x.reshape(n * c, -1), axis=1)
        ctx.idx, ctx.in_shape = idx, x.shape
        return out.reshape((n, c) + tuple(out_spatial))

    @staticmethod
    def backward(ctx, g):
        n_c = ctx.idx.shape[0]
        gx = np.take_along_axis(g.reshape(n_c, -1), ctx.idx, axis=1).reshape(ctx.in_shape)
        return gx, None, None


def _default_size(in_spatial, kernel, stride, padding):
    return [(i - 1) * s - 2 * p + k for i, k, s, p in zip(in_spatial, kernel, stride, padding)]


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, nd):
    name = f"max_unpool{nd}d"
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D input, but got "
                           f"{input.ndim}D input")
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    idx = indices._array if isinstance(indices, Tensor) else np.asarray(indices)
    if tuple(idx.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(idx.shape)}")
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: expected indices of an integer type, got {idx.dtype}")
    kernel = ntuple(kernel_size, nd, "kernel_size")
    stride = ntuple(stride if stride is not None else kernel_size, nd, "stride")
    padding = ntuple(padding, nd, "padding")
    default = _default_size(tuple(x.shape[2:]), kernel, stride, padding)
    if output_size is None:
        size = default
    else:
        size = [int(s) for s in list(output_size)[-nd:]]
        if len(list(output_size)) not in (nd, nd + 1, nd + 2):
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(list(output_size))}'")
        for d in range(nd):
            lo, hi = default[d] - stride[d], default[d] + stride[d]
            if not lo < size[d] < hi:
                raise ValueError(f'invalid output_size "{size}" (dim {d} must be between '
                                 f"{lo} and {hi})")
    out = MaxUnpoolFn.apply(x, idx.reshape(x.shape), tuple(size))
    return out.squeeze(0) if unbatched else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3)
