"""F.interpolate: nearest / nearest-exact, (bi/tri)linear and bicubic with either
align_corners, as index selections and weighted sums along each spatial axis in turn
(separable), so the gradient comes from the tape's index_select and arithmetic; area is the
adaptive average pool."""
import math
import numbers

import numpy as np

from cylayers._tensor import Tensor
from cylayers.nn.functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,
                                            adaptive_avg_pool3d)

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic kernel parameter


def _cubic_taps(in_size, out_size, scale, align_corners):
    """Per output index along one axis: 4 source indices (clamped at the edges) and their
    weights from Keys' cubic convolution kernel, as PyTorch's bicubic computes them."""
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1)) if out_size > 1 else np.zeros(out_size)
    else:
        src = (dst + 0.5) * scale - 0.5  # not clamped at 0: the kernel reaches past the edge
    base = np.floor(src)
    t = src - base
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    taps = [np.clip(base.astype(np.int64) + k, 0, in_size - 1) for k in (-1, 0, 1, 2)]
    return taps, weights


def _axis_sources(in_size, out_size, scale, mode, align_corners):
    """Per output index along one axis: (i0, i1, w) with out = (1 - w) x[i0] + w x[i1]."""
    dst = np.arange(out_size, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        offset = 0.5 if mode == "nearest-exact" else 0.0
        src = np.floor((dst + offset) * scale).astype(np.int64)
        return np.minimum(src, in_size - 1), None, None
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1)) if out_size > 1 else np.zeros(out_size)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, src - i0


def _uint8_linear_pass(a, axis, i0, i1, w):
    """One axis of uint8 linear interpolation as PyTorch computes it: both weights as integers
    with the most fractional bits that keep them below 2^15 (rounded half away from zero), the
    sum plus a half rounded down by the shift, clamped to 0..255."""
    w = np.where(i0 == i1, 0.0, w)  # at an edge, one tap of weight 1
    w0, w1 = 1.0 - w, w
    largest = max(float(w0.max(initial=0.0)), float(w1.max(initial=0.0)))
    bits = 0
    while bits < 22 and int(0.5 + largest * (1 << (bits + 1))) < (1 << 15):
        bits += 1
    c0 = np.trunc(w0 * (1 << bits) + 0.5).astype(np.int64)
    c1 = np.trunc(w1 * (1 << bits) + 0.5).astype(np.int64)
    shape = [1] * a.ndim
    shape[axis] = -1
    total = (1 << (bits - 1)) + np.take(a, i0, axis).astype(np.int64) * c0.reshape(shape) \
        + np.take(a, i1, axis).astype(np.int64) * c1.reshape(shape)
    return np.clip(total >> bits, 0, 255).astype(np.uint8)


_TORCH_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
                     "uint8": "Byte", "bool": "Bool"}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    n_spatial = input.ndim - 2
    if n_spatial < 1 or n_spatial > 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  "bilinear | bicubic | trilinear | area | nearest-exact "
                                  f"(got {mode})")
    if mode not in ("nearest", "nearest-exact", "bicubic", "area") and mode not in _LINEAR:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported by cylayers "
                                  "(nearest, nearest-exact, linear, bilinear, bicubic, "
                                  "trilinear, area are)")
    if mode == "bicubic" and n_spatial != 2:
        raise NotImplementedError(f"Got {input.ndim}D input, but bicubic mode needs 4D input")
    if mode in _LINEAR and _LINEAR[mode] != n_spatial:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_LINEAR[mode] + 2}D input")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by cylayers")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    in_sizes = tuple(input.shape[2:])
    if size is not None:
        out_sizes = (size,) * n_spatial if isinstance(size, numbers.Integral) else tuple(size)
        if len(out_sizes) != n_spatial:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(in_sizes)} and output size of {list(out_sizes)}.")
        scales = [i / o for i, o in zip(in_sizes, out_sizes)]
    else:
        factors = ((scale_factor,) * n_spatial if isinstance(scale_factor, numbers.Real)
                   else tuple(scale_factor))
        if len(factors) != n_spatial:
            raise ValueError(f"scale_factor shape must match input shape. Input is "
                             f"{n_spatial}D, scale_factor size is {len(factors)}")
        out_sizes = tuple(int(math.floor(i * f)) for i, f in zip(in_sizes, factors))
        # PyTorch maps coordinates with the given factor unless asked to recompute it.
        scales = ([i / o for i, o in zip(in_sizes, out_sizes)] if recompute_scale_factor
                  else [1.0 / f for f in factors])
    if mode == "area":  # the average over each output cell's adaptive window
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[n_spatial - 1]
        return pool(input, out_sizes)
    integer = input._array.dtype.kind in "biu"
    if mode in _LINEAR and integer:
        if not (mode == "bilinear" and input._array.dtype == np.uint8):
            kernel = ("upsample_bilinear2d_channels_last" if mode == "bilinear"
                      else "compute_indices_weights_linear")
            raise NotImplementedError(f'"{kernel}" not implemented for '
                                      f"'{_TORCH_TYPE_NAMES.get(input._array.dtype.name, input._array.dtype.name)}'")
        # uint8 images, PyTorch's one integer linear mode: its fixed-point separable passes
        a = input._array
        for axis in (3, 2):  # the width first, then the height, each rounded to uint8
            i0, i1, w = _axis_sources(in_sizes[axis - 2], out_sizes[axis - 2],
                                      scales[axis - 2], mode, align_corners)
            a = _uint8_linear_pass(a, axis, i0, i1, w)
        return Tensor._make(a)
    out = input
    for k, (n_in, n_out, scale) in enumerate(zip(in_sizes, out_sizes, scales)):
        axis = 2 + k
        if mode == "bicubic":
            taps, weights = _cubic_taps(n_in, n_out, scale, align_corners)
            shape = [1] * input.ndim
            shape[axis] = n_out
            out = sum(out.index_select(axis, Tensor._make(i))
                      * Tensor._make(w.reshape(shape).astype(input._array.dtype))
                      for i, w in zip(taps, weights))
            continue
        i0, i1, w = _axis_sources(n_in, n_out, scale, mode, align_corners)
        low = out.index_select(axis, Tensor._make(i0))
        if w is None:
            out = low
            continue
        shape = [1] * input.ndim
        shape[axis] = n_out
        weight = Tensor._make(w.reshape(shape).astype(input._array.dtype))
        high = out.index_select(axis, Tensor._make(i1))
        out = low + (high - low) * weight
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """PyTorch's deprecated alias: bilinear with align_corners=True."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
