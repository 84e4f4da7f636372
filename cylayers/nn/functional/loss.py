"""Loss functions. Cross-entropy is log_softmax (a kernel) followed by nll_loss."""
import warnings

import numpy as np

from cylayers._tensor import Size, Tensor
from cylayers.autograd.function import Function
from cylayers._ops.arith import unbroadcast
from cylayers.nn.functional.activation import log_softmax

_REDUCTIONS = ("none", "mean", "sum")


def _torch_name(dtype):
    """PyTorch's scalar-type name in its dtype errors: Float, Double, Long..."""
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "bool": "Bool", "uint8": "Byte"}.get(dtype.name, dtype.name)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _raw(x):
    return x._array if isinstance(x, Tensor) else (None if x is None else np.asarray(x))


def _class_layout(logp, target):
    """(M, C) view of the log-probabilities (class dim moved last) and (M,) targets."""
    if logp.ndim == 1:
        if target.ndim != 0:
            raise ValueError(f"Expected input batch_size (1) to match target batch_size "
                             f"({target.shape[0] if target.ndim else 1}).")
        return logp.reshape(1, -1), target.reshape(1)
    if logp.ndim == 2 and target.ndim == 2:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target.ndim != logp.ndim - 1 or target.shape[0] != logp.shape[0]:
        raise ValueError(f"Expected input batch_size ({logp.shape[0]}) to match target "
                         f"batch_size ({target.shape[0] if target.ndim else 1}).")
    if target.shape[1:] != logp.shape[2:]:
        raise RuntimeError(f"Expected target size {(logp.shape[0],) + logp.shape[2:]}, got "
                           f"{target.shape}")
    c = logp.shape[1]
    m = target.size  # explicit: with zero classes, -1 could not be inferred
    return np.moveaxis(logp, 1, -1).reshape(m, c), target.reshape(m)


class NLLLossFn(Function):
    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index, reduction):
        if target.dtype.kind not in "iu":
            raise RuntimeError(f"expected scalar type Long but found {target.dtype}")
        x2, t = _class_layout(logp, target)
        n_classes = x2.shape[1]
        valid = t != ignore_index
        bad = valid & ((t < 0) | (t >= n_classes))
        if bad.any():
            raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
        if weight is not None and weight.shape != (n_classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {n_classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        t_safe = np.where(valid, t, 0)
        w = valid.astype(logp.dtype)
        if weight is not None:
            w = w * weight.astype(logp.dtype)[t_safe]
        picked = x2[np.arange(t.shape[0]), t_safe]
        losses = -w * picked
        ctx.cache = (logp.shape, t_safe, w, reduction, target.shape)
        if reduction == "none":
            return losses.reshape(target.shape)
        total = losses.sum(dtype=np.float64)
        if reduction == "sum":
            return np.asarray(total, dtype=logp.dtype)
        denom = w.sum(dtype=np.float64)
        ctx.denom = denom
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(total / denom, dtype=logp.dtype)

    @staticmethod
    def backward(ctx, g):
        shape, t_safe, w, reduction, target_shape = ctx.cache
        if reduction == "none":
            coef = -w * g.reshape(-1)
        elif reduction == "sum":
            coef = -w * g
        elif ctx.denom == 0:
            # Every target ignored: the loss is 0/0 = NaN, but no sample contributed, so the
            # gradient is zero (PyTorch's answer), not NaN that one optimizer step would spread.
            coef = np.zeros_like(w)
        else:
            coef = -w * (g / ctx.denom)
        c = shape[1] if len(shape) > 1 else shape[0]
        g2 = np.zeros((t_safe.shape[0], c), dtype=w.dtype)
        g2[np.arange(t_safe.shape[0]), t_safe] = coef
        if len(shape) == 1:
            return g2.reshape(shape), None, None, None, None
        moved = (shape[0],) + tuple(shape[2:]) + (c,)
        return np.moveaxis(g2.reshape(moved), -1, 1), None, None, None, None


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    _check_reduction(reduction)
    return NLLLossFn.apply(input, _raw(target), _raw(weight), ignore_index, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, dim=class_dim)
    target_arr = _raw(target)
    w = _raw(weight)
    n_classes = input.shape[class_dim]
    if target_arr.dtype.kind == "f":  # class probabilities
        return _cross_entropy_probs(input, target, logp, w, class_dim, n_classes, reduction,
                                    label_smoothing)
    nll = NLLLossFn.apply(logp, target_arr, w, ignore_index, reduction)
    if label_smoothing == 0.0:
        return nll
    # Smoothing term, following PyTorch: -sum_c w_c log p_c, zero on ignored targets, with the
    # mean normalized like nll_loss's.
    dtype = logp._array.dtype
    ignore = target_arr == ignore_index
    if w is not None:
        wshape = [1] * input.ndim
        wshape[class_dim] = n_classes
        smooth = -(logp * Tensor._make(w.reshape(wshape).astype(dtype))).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth = smooth * Tensor._make((~ignore).astype(dtype))
    if reduction == "mean":
        denom = float(w[target_arr[~ignore]].sum() if w is not None else (~ignore).sum())
        if denom == 0:
            # Every target ignored: NaN loss with zero gradients, as nll_loss gives.
            smooth = smooth.sum() * 0.0 + Tensor._make(np.asarray(np.nan, dtype=dtype))
        else:
            smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _cross_entropy_probs(input, target, logp, w, class_dim, n_classes, reduction,
                         label_smoothing):
    """Cross-entropy against class probabilities; differentiable in the target too."""
    if tuple(np.shape(_raw(target))) != tuple(input.shape):
        raise RuntimeError("cross_entropy: with probability targets, target must have the "
                           f"input's shape {tuple(input.shape)}, got {np.shape(_raw(target))}")
    dtype = logp._array.dtype
    probs = target if isinstance(target, Tensor) else Tensor._make(np.asarray(target))
    if probs._array.dtype != dtype:
        probs = probs.type(dtype)
    if label_smoothing > 0:
        probs = probs * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * probs
    if w is not None:
        wshape = [1] * input.ndim
        wshape[class_dim] = n_classes
        prod = prod * Tensor._make(w.reshape(wshape).astype(dtype))
    loss = -prod.sum(class_dim)
    if reduction == "mean":
        return loss.sum() / (loss._array.size if input.ndim > 1 else 1)
    return _reduce(loss, reduction)


def _check_same_size(input, target):
    if tuple(np.shape(_raw(target))) != tuple(input.shape):
        raise ValueError(f"Using a target size ({tuple(np.shape(_raw(target)))}) that is "
                         f"different to the input size ({tuple(input.shape)}) is deprecated. "
                         f"Please ensure they have the same size.")


def _warn_if_broadcasting(input, target):
    target_shape = tuple(np.shape(_raw(target)))
    if target_shape != tuple(input.shape):
        warnings.warn(f"Using a target size ({Size(target_shape)}) that is different to the "
                      f"input size ({Size(tuple(input.shape))}). This will likely lead to "
                      "incorrect results due to broadcasting. Please ensure they have the same "
                      "size.", UserWarning, stacklevel=3)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    _check_reduction(reduction)
    _warn_if_broadcasting(input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    _check_reduction(reduction)
    _warn_if_broadcasting(input, target)
    return _reduce((input - target).abs(), reduction)


class BCEFn(Function):
    @staticmethod
    def forward(ctx, x, y, weight):
        if np.any((x < 0) | (x > 1)):
            raise RuntimeError("all elements of input should be between 0 and 1")
        if np.any((y < 0) | (y > 1)):
            raise RuntimeError("all elements of target should be between 0 and 1")
        with np.errstate(divide="ignore"):
            # PyTorch clamps the logs at -100 so that a confident mistake costs 100, not inf.
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -(y * log_x + (1 - y) * log_1mx)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, weight)
        return loss.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, y, weight = ctx.saved_tensors
        gx = g * (x - y) / np.maximum((1 - x) * x, 1e-12)
        if weight is not None:
            gx = gx * weight
        gy = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gy = g * (np.maximum(np.log1p(-x), -100) - np.maximum(np.log(x), -100))
            if weight is not None:
                gy = gy * weight
        return (unbroadcast(gx.astype(x.dtype, copy=False), x.shape), gy, None)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    _check_reduction(reduction)
    _check_same_size(input, target)
    w = _raw(weight)
    if isinstance(target, Tensor):
        if target.dtype != input.dtype:  # PyTorch does not promote here
            raise RuntimeError(f"Found dtype {_torch_name(target.dtype)} but expected "
                               f"{_torch_name(input.dtype)}")
    else:  # an array or list: taken in the input's dtype
        target = _raw(target).astype(input._array.dtype)
    return _reduce(BCEFn.apply(input, target,
                               None if w is None else np.broadcast_to(w, tuple(input.shape))),
                   reduction)


class BCEWithLogitsFn(Function):
    @staticmethod
    def forward(ctx, x, y, weight, pos_weight):
        # PyTorch's loss has the target's dtype (it is computed as (1 - target) * input + ...),
        # whatever the input's; the arithmetic here runs in the wider of the two.
        ctx.in_dtypes = (x.dtype, y.dtype)
        dtype = np.result_type(x.dtype, y.dtype)
        x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
        # log(1 + exp(-|x|)) + max(-x, 0) = softplus(-x), never overflowing.
        sp_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)
        if pos_weight is not None:
            lw = 1 + (pos_weight - 1) * y
            loss = (1 - y) * x + lw * sp_neg
        else:
            loss = (1 - y) * x + sp_neg
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, weight, pos_weight)
        return loss.astype(ctx.in_dtypes[1], copy=False)

    @staticmethod
    def backward(ctx, g):
        x, y, weight, pos_weight = ctx.saved_tensors
        sig = 1.0 / (1.0 + np.exp(-x))  # overflow to inf yields the right 0 limit
        if pos_weight is not None:
            lw = 1 + (pos_weight - 1) * y
            gx = (1 - y) - lw * (1 - sig)
        else:
            gx = sig - y
        gx = g * gx
        if weight is not None:
            gx = gx * weight
        gy = None
        if ctx.needs_input_grad[1]:
            sp_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)
            gy = -x + (pos_weight - 1) * sp_neg if pos_weight is not None else -x
            gy = g * gy
            if weight is not None:
                gy = gy * weight
            gy = gy.astype(ctx.in_dtypes[1], copy=False)
        return gx.astype(ctx.in_dtypes[0], copy=False), gy, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    _check_reduction(reduction)
    _check_same_size(input, target)
    w, pw = _raw(weight), _raw(pos_weight)
    if isinstance(target, Tensor):
        if target._array.dtype.kind != "f":
            raise RuntimeError(f"result type {_torch_name(input.dtype)} can't be cast to the "
                               f"desired output type {_torch_name(target.dtype)}")
    else:  # an array or list: taken in the input's dtype
        target = _raw(target).astype(input._array.dtype)
    with np.errstate(over="ignore"):
        return _reduce(BCEWithLogitsFn.apply(
            input, target,
            None if w is None else np.broadcast_to(w, tuple(input.shape)), pw), reduction)
