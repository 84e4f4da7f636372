"""Dropout family: one op on the counter-based RNG kernel; masks are regenerated in backward."""
import math
import warnings

import numpy as np

from cylayers._kernels import dropout as _kernel_module
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import c_array, float_input, named_kernels
from cylayers.nn.functional.activation import SELU_ALPHA, SELU_SCALE
from cylayers.random import next_kernel_stream

K = named_kernels(_kernel_module)

# SELU's negative saturation value -scale * alpha, which AlphaDropout gives dropped units.
ALPHA_PRIME = SELU_SCALE * SELU_ALPHA


def _check_p(p):
    if not (0.0 <= p <= 1.0):  # NaN fails both comparisons
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


class DropoutFn(Function):
    @staticmethod
    def forward(ctx, x, p, inner, alpha):
        xc = float_input(x, "dropout")
        seed, offset = next_kernel_stream()
        # Keep a unit when its 32-bit uniform is below (1 - p) * 2^32: unbiased to ~2^-32.
        threshold = min(int(round((1.0 - p) * 2.0 ** 32)), 2 ** 32 - 1)
        if p == 1.0:
            mul = add = drop = 0.0
        elif alpha:
            a = 1.0 / math.sqrt((ALPHA_PRIME ** 2 * p + 1) * (1 - p))
            mul, add, drop = a, ALPHA_PRIME * a * p, -ALPHA_PRIME * a + ALPHA_PRIME * a * p
        else:
            mul, add, drop = 1.0 / (1.0 - p), 0.0, 0.0
        target = ctx.out
        out = target if target is not None and target.flags.c_contiguous else np.empty_like(xc)
        K.masked_affine(xc.reshape(-1), out.reshape(-1), seed, offset, threshold, mul, add, drop,
                        inner, threads_for(xc.size))
        if target is not None and out is not target:
            np.copyto(target, out)
            out = target
        ctx.mask_key = (seed, offset, threshold, mul, inner)  # 0 bytes per element
        return out

    @staticmethod
    def backward(ctx, g):
        seed, offset, threshold, mul, inner = ctx.mask_key
        g = c_array(g)
        gi = np.empty_like(g)
        K.masked_affine(g.reshape(-1), gi.reshape(-1), seed, offset, threshold, mul, 0.0, 0.0,
                        inner, threads_for(g.size))
        return gi, None, None, None


def _dropout(input, p, training, inplace, inner, alpha):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if inplace:
        return DropoutFn.apply_inplace(input, p, inner, alpha)
    return DropoutFn.apply(input, p, inner, alpha)


def dropout(input, p=0.5, training=True, inplace=False):
    return _dropout(input, p, training, inplace, 1, False)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _dropout(input, p, training, inplace, 1, True)


def _feature_inner(input, name, batched_dims):
    nd = input.ndim
    if nd < 2:
        raise ValueError(f"{name}: Expected at least 2D input, but received a {nd}D input")
    # Unbatched input (C, *spatial) has one fewer dim; either way the unit is one channel row.
    spatial = input.shape[2:] if nd >= batched_dims else input.shape[1:]
    return math.prod(spatial) if spatial else 1


def dropout1d(input, p=0.5, training=True, inplace=False):
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout on "
                           "inputs with 1 spatial dimension, a channel dimension, and an optional "
                           "batch dimension (i.e. 2D or 3D inputs).")
    return _dropout(input, p, training, inplace, _feature_inner(input, "dropout1d", 3), False)


def _warn_unexpected_rank(name, nd, spatial):
    """PyTorch's deprecation warning for a dropout{2,3}d input of the wrong rank."""
    if nd in (spatial + 1, spatial + 2):
        return
    ranks = f"{spatial + 1}D or {spatial + 2}D"
    warnings.warn(f"{name}: Received a {nd}-D input to {name}, which is deprecated and will "
                  "result in an error in a future release. To retain the behavior and silence "
                  f"this warning, please use dropout instead. Note that {name} exists to provide "
                  f"channel-wise dropout on inputs with {spatial} spatial dimensions, a channel "
                  f"dimension, and an optional batch dimension (i.e. {ranks} inputs).",
                  UserWarning, stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    nd = input.ndim
    _warn_unexpected_rank("dropout2d", nd, 2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch "
                      "to using dropout1d instead.", UserWarning, stacklevel=2)
        return _dropout(input, p, training, inplace, input.shape[2], False)
    if nd < 2:
        return dropout(input, p, training, inplace)
    return _dropout(input, p, training, inplace, _feature_inner(input, "dropout2d", 4), False)


def dropout3d(input, p=0.5, training=True, inplace=False):
    nd = input.ndim
    _warn_unexpected_rank("dropout3d", nd, 3)
    if nd < 2:
        return dropout(input, p, training, inplace)
    return _dropout(input, p, training, inplace, _feature_inner(input, "dropout3d", 5), False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    if input.ndim < 2:
        raise ValueError("feature_alpha_dropout: expected at least 2D input (N, C, *)")
    inner = math.prod(input.shape[2:]) if input.ndim > 2 else 1
    return _dropout(input, p, training, inplace, inner, True)
