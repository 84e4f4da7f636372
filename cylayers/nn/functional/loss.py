"""Loss functions. Cross-entropy is log_softmax (a kernel) followed by nll_loss."""
import math
import warnings

import numpy as np

from cylayers._functions import where
from cylayers._tensor import Size, Tensor, unwrap
from cylayers.autograd.function import Function
from cylayers.autograd.grad_mode import is_grad_enabled
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


def _as_array(x):
    """A Tensor's array, or anything else as an array (None stays None)."""
    return None if x is None else np.asarray(unwrap(x))


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
        if logp.ndim == 2 and target.ndim == 1 and target.shape[0] == logp.shape[0]:
            x2, t = logp, target  # (N, C) already: _class_layout's checks and moves would pass
        else:
            x2, t = _class_layout(logp, target)
        n_classes = x2.shape[1]
        lo, hi = (int(t.min()), int(t.max())) if t.size else (0, 0)
        if lo <= ignore_index <= hi or lo < 0 or hi >= n_classes:  # else every target is valid
            valid = t != ignore_index
            bad = valid & ((t < 0) | (t >= n_classes))
            if bad.any():
                raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
        else:
            valid = np.ones(t.shape, dtype=bool)
        if weight is not None and weight.shape != (n_classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {n_classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        t_safe = t if valid.all() else np.where(valid, t, 0)
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
        ctx.valid = valid
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
            # The loss is 0/0 = NaN. Ignored targets contributed nothing and get zero gradients;
            # targets counted with weight 0 get 0 * (g / 0) = NaN, as in PyTorch.
            with np.errstate(invalid="ignore", divide="ignore"):
                coef = np.where(ctx.valid, -w * (g / ctx.denom), 0).astype(w.dtype)
        else:
            coef = -w * (g / ctx.denom)
        c = shape[1] if len(shape) > 1 else shape[0]
        g2 = np.zeros((t_safe.shape[0], c), dtype=w.dtype)
        g2[np.arange(t_safe.shape[0]), t_safe] = coef
        if len(shape) <= 2:
            return g2.reshape(shape), None, None, None, None
        moved = (shape[0],) + tuple(shape[2:]) + (c,)
        return np.moveaxis(g2.reshape(moved), -1, 1), None, None, None, None


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    _check_reduction(reduction)
    return NLLLossFn.apply(input, _as_array(target), _as_array(weight), ignore_index, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, dim=class_dim)
    target_arr = _as_array(target)
    w = _as_array(weight)
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
    if tuple(np.shape(_as_array(target))) != tuple(input.shape):
        raise RuntimeError("cross_entropy: with probability targets, target must have the "
                           f"input's shape {tuple(input.shape)}, got {np.shape(_as_array(target))}")
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
    if tuple(np.shape(_as_array(target))) != tuple(input.shape):
        raise ValueError(f"Using a target size ({tuple(np.shape(_as_array(target)))}) that is "
                         f"different to the input size ({tuple(input.shape)}) is deprecated. "
                         f"Please ensure they have the same size.")


def _warn_if_broadcasting(input, target):
    target_shape = tuple(np.shape(_as_array(target)))
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
    w = _as_array(weight)
    if isinstance(target, Tensor):
        if target.dtype != input.dtype:  # PyTorch does not promote here
            raise RuntimeError(f"Found dtype {_torch_name(target.dtype)} but expected "
                               f"{_torch_name(input.dtype)}")
    else:  # an array or list: taken in the input's dtype
        target = _as_array(target).astype(input._array.dtype)
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
    w, pw = _as_array(weight), _as_array(pos_weight)
    if isinstance(target, Tensor):
        if target._array.dtype.kind != "f":
            raise RuntimeError(f"result type {_torch_name(input.dtype)} can't be cast to the "
                               f"desired output type {_torch_name(target.dtype)}")
    else:  # an array or list: taken in the input's dtype
        target = _as_array(target).astype(input._array.dtype)
    with np.errstate(over="ignore"):
        return _reduce(BCEWithLogitsFn.apply(
            input, target,
            None if w is None else np.broadcast_to(w, tuple(input.shape)), pw), reduction)


# ---------------------------------------------------------------- losses composed of tensor ops
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0: the L1 loss)."""
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_if_broadcasting(input, target)
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    loss = _where_tensor(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| <= delta, else delta * (|d| - 0.5 delta)."""
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_if_broadcasting(input, target)
    d = (input - target).abs()
    loss = _where_tensor(d <= delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _where_tensor(cond, a, b):
    return where(cond, a, b)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise target * (log target - input) (0 where target is 0); reduction 'batchmean'
    divides the sum by the batch size, as the KL divergence's definition wants."""
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    target = target if isinstance(target, Tensor) else Tensor._make(np.asarray(target))
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input  # xlogy: 0 * log 0 = 0
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x)), computed without overflow."""
    _check_reduction(reduction)
    if getattr(target, "requires_grad", False) and is_grad_enabled():
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect "
                           "to argument 'target'. This input cannot have requires_grad True.")
    z = -(target * input)
    loss = z.clamp_min(0.0) + (-(z.abs())).exp().log1p()
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    _check_reduction(reduction)
    if not (input1.ndim == input2.ndim == (target.ndim if isinstance(target, Tensor)
                                             else np.ndim(target))):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same "
                           f"dimension but got sizes: input1: {tuple(input1.shape)}, input2: "
                           f"{tuple(input2.shape)}, target: {tuple(np.shape(_as_array(target)))} ")
    loss = (-target * (input1 - input2) + margin).clamp_min(0.0)
    return _reduce(loss, reduction)


_COSINE_EPSILON = 1e-12


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1."""
    _check_reduction(reduction)
    dim = input1.ndim - 1
    dot = (input1 * input2).sum(dim)
    mag = ((input1 * input1).sum(dim) + _COSINE_EPSILON) * (
        (input2 * input2).sum(dim) + _COSINE_EPSILON)
    cos = dot / mag.sqrt()
    t = target if isinstance(target, Tensor) else Tensor._make(np.asarray(target))
    zeros = cos * 0.0
    pos = _where_tensor(t == 1, 1.0 - cos, zeros)
    neg = _where_tensor(t == -1, (cos - margin).clamp_min(0.0), zeros)
    return _reduce(pos + neg, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    _check_reduction(reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:  # Stirling's approximation of log(target!), where target > 1
        t = target if isinstance(target, Tensor) else Tensor._make(np.asarray(target))
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + stirling.masked_fill(t <= 1, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log var + (input - target)^2 / var), var clamped at eps without touching its
    gradient (PyTorch's choice); var may lack the last dim or have it of size 1."""
    _check_reduction(reduction)
    if not isinstance(var, Tensor):
        var = Tensor._make(np.full(tuple(input.shape), float(var), dtype=input._array.dtype))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if np.any(var._array < 0):
        raise ValueError("var has negative entry/entries")
    clamped = var + Tensor._make(np.maximum(var._array, eps) - var._array)  # value only
    loss = 0.5 * (clamped.log() + (input - target) ** 2 / clamped)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
