"""The margin and embedding losses beyond the everyday ones: hinge_embedding_loss,
multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss, triplet_margin_loss
(with a distance function too), composed from differentiable tensor ops with PyTorch's
reductions and argument checks."""
import numpy as np

from cylayers._tensor import Tensor
from cylayers._tensor_arithmetic import _where
from cylayers.nn.functional.activation import logsigmoid
from cylayers.nn.functional.distance import pairwise_distance
from cylayers.nn.functional.loss import _check_reduction, _reduce


def legacy_reduction(size_average, reduce, reduction):
    """size_average / reduce (deprecated) translated to reduction, as PyTorch does."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where the target is 1, max(0, margin - x) where it is -1 (and both terms where a
    target is neither, as PyTorch adds them)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    margin_term = _where(target == 1, 0.0, (margin - input).clamp_min(0.0))
    self_term = _where(target == -1, 0.0, input)
    return _reduce(margin_term + self_term, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """-mean over classes of y log sigmoid(x) + (1 - y) log sigmoid(-x), per sample."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(-1) / input.shape[-1] if input.dim() else loss
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Per sample: sum over classes i != y of max(0, margin - x[y] + x[i]) ** p / C."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input if input.dim() == 2 else input.reshape(1, -1)
    y = target.reshape(-1)
    if x.dim() != 2 or y.shape[0] != x.shape[0]:
        raise RuntimeError(f"inconsistent target size, expected {x.shape[0]} but got "
                           f"{list(target.shape)}")
    classes = x.shape[1]
    if y.numel() and (y.min().item() < 0 or y.max().item() >= classes):
        raise IndexError("target out of range")
    picked = x.gather(1, y.reshape(-1, 1))
    margins = (margin - picked + x).clamp_min(0.0)
    if p == 2:
        margins = margins * margins
    if weight is not None:
        margins = margins * weight[y].reshape(-1, 1)
    not_target = Tensor._make(np.arange(classes)[None, :] != np.asarray(y._array)[:, None])
    loss = (margins * not_target.to(margins.dtype)).sum(1) / classes
    if input.dim() < 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Per sample: sum over target classes j (the target's leading non-negative entries) and
    non-target classes i of max(0, 1 - (x[j] - x[i])) / C."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x = input if input.dim() == 2 else input.reshape(1, -1)
    t = np.asarray(target._array).reshape(x.shape)
    classes = x.shape[1]
    # the targets of a row: its entries up to the first -1
    valid = np.cumprod(t >= 0, axis=1).astype(bool)
    times = np.zeros(x.shape, dtype=np.int64)  # a target listed twice counts twice
    np.add.at(times, (np.nonzero(valid)[0], t[valid]), 1)
    pairs = Tensor._make((times[:, :, None] * (times == 0)[:, None, :]).astype(
        x._array.dtype))
    hinge = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0.0)  # [n, j, i]
    loss = (hinge * pairs).sum((1, 2)) / classes
    if input.dim() < 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with the p-norm pairwise distance."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    dims = {anchor.dim(), positive.dim(), negative.dim()}
    if len(dims) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {anchor.dim()}D, "
                           f"positive {positive.dim()}D, and negative {negative.dim()}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp_min(0.0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, "
                         f"got {margin} instead")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos, d_neg = dist(anchor, positive), dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp_min(0.0), reduction)
