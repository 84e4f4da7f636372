"""Losses: PyTorch parity for every option, gradcheck, stability, clear errors."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck
from helpers import assert_close, to_torch

TF = torch.nn.functional


def _logits(shape, dtype, seed=0, scale=3.0):
    arr = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    return cylayers.tensor(arr, requires_grad=True), to_torch(arr, requires_grad=True)


def _targets(shape, n_classes, seed=1, ignore=None):
    t = np.random.default_rng(seed).integers(0, n_classes, shape)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


CE_OPTIONS = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(weight=True),
    dict(weight=True, reduction="none"),
    dict(ignore_index=2),
    dict(ignore_index=-100, ignore=True),
    dict(label_smoothing=0.1),
    dict(label_smoothing=0.2, weight=True),
    dict(label_smoothing=0.15, weight=True, ignore=True, reduction="sum"),
    dict(label_smoothing=0.1, ignore=True, reduction="none"),
]


CASES = ([("cross_entropy", o) for o in CE_OPTIONS]
         + [("nll_loss", o) for o in CE_OPTIONS if "label_smoothing" not in o])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 5), (4, 5, 3, 2)], ids=str)
@pytest.mark.parametrize("loss,opts", CASES, ids=str)
def test_ce_and_nll_parity(loss, opts, shape, dtype):
    opts = dict(opts)
    n_classes = shape[1]
    use_weight = opts.pop("weight", False)
    ignore = opts.pop("ignore", False)
    ignore_value = opts.get("ignore_index", -100)
    target = _targets((shape[0],) + shape[2:], n_classes, ignore=ignore_value if ignore else None)
    w = np.random.default_rng(3).uniform(0.5, 2, n_classes).astype(dtype) if use_weight else None
    xo, xt = _logits(shape, dtype)
    if loss == "nll_loss":
        inp_o, inp_t = F.log_softmax(xo, 1), TF.log_softmax(xt, 1)
    else:
        inp_o, inp_t = xo, xt
    lo = getattr(F, loss)(inp_o, cylayers.tensor(target),
                          weight=None if w is None else cylayers.tensor(w), **opts)
    lt = getattr(TF, loss)(inp_t, torch.from_numpy(target),
                           weight=None if w is None else torch.from_numpy(w), **opts)
    assert_close(lo, lt, dtype)
    g = np.random.default_rng(4).standard_normal(lt.shape).astype(dtype)
    lo.backward(cylayers.tensor(g))
    lt.backward(torch.from_numpy(g))
    assert_close(xo.grad, xt.grad, dtype)


def test_cross_entropy_probability_targets():
    xo, xt = _logits((5, 4), np.float64)
    p = np.random.default_rng(0).dirichlet(np.ones(4), 5)
    for ls in (0.0, 0.1):
        lo = F.cross_entropy(xo, cylayers.tensor(p), label_smoothing=ls)
        lt = TF.cross_entropy(xt, torch.from_numpy(p), label_smoothing=ls)
        assert_close(lo, lt, np.float64)


def test_cross_entropy_gradcheck_and_stability():
    x = cylayers.randn(4, 3, dtype=cylayers.float64, requires_grad=True)
    t = cylayers.tensor([0, 2, 1, 2])
    w = cylayers.tensor([0.5, 1.0, 2.0], dtype=cylayers.float64)
    assert gradcheck(lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=0.1), [x])
    huge = cylayers.tensor([[1e4, 0.0, -1e4]], requires_grad=True)
    loss = F.cross_entropy(huge, cylayers.tensor([2]))
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(2e4)
    loss.backward()
    assert np.all(np.isfinite(huge.grad.numpy()))


def test_target_errors():
    x = cylayers.randn(3, 4)
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(x, cylayers.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match="Target -2 is out of bounds"):
        F.nll_loss(x, cylayers.tensor([0, -2, 1]))
    with pytest.raises(ValueError, match="Expected input batch_size"):
        F.cross_entropy(x, cylayers.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="expected scalar type Long"):
        F.nll_loss(x, cylayers.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.CrossEntropyLoss(reduction="avg")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_and_binary_losses(reduction, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3)).astype(dtype)
    b = rng.standard_normal((4, 3)).astype(dtype)
    p = rng.uniform(0.01, 0.99, (4, 3)).astype(dtype)
    y = rng.integers(0, 2, (4, 3)).astype(dtype)
    w = rng.uniform(0.5, 2, (3,)).astype(dtype)
    pw = rng.uniform(0.5, 3, (3,)).astype(dtype)
    cases = [
        (lambda L, x, t: L.nn.functional.mse_loss(x, t, reduction=reduction), a, b),
        (lambda L, x, t: L.nn.functional.l1_loss(x, t, reduction=reduction), a, b),
        (lambda L, x, t: L.nn.functional.binary_cross_entropy(x, t, reduction=reduction), p, y),
        (lambda L, x, t: L.nn.functional.binary_cross_entropy(
            x, t, weight=L.tensor(w) if L is cylayers else torch.from_numpy(w),
            reduction=reduction), p, y),
        (lambda L, x, t: L.nn.functional.binary_cross_entropy_with_logits(
            x, t, reduction=reduction), a * 5, y),
        (lambda L, x, t: L.nn.functional.binary_cross_entropy_with_logits(
            x, t, pos_weight=L.tensor(pw) if L is cylayers else torch.from_numpy(pw),
            weight=L.tensor(w) if L is cylayers else torch.from_numpy(w),
            reduction=reduction), a * 5, y),
    ]
    for fn, x, t in cases:
        xo, xt = cylayers.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
        to, tt = cylayers.tensor(t, requires_grad=True), to_torch(t, requires_grad=True)
        lo, lt = fn(cylayers, xo, to), fn(torch, xt, tt)
        assert_close(lo, lt, dtype)
        lo.sum().backward()
        lt.sum().backward()
        assert_close(xo.grad, xt.grad, dtype)
        assert_close(to.grad, tt.grad, dtype)


def test_binary_losses_gradcheck_and_guards():
    x = cylayers.tensor(np.random.default_rng(0).uniform(0.1, 0.9, (3, 2)), requires_grad=True)
    y = cylayers.tensor(np.random.default_rng(1).uniform(0, 1, (3, 2)))
    assert gradcheck(lambda a: F.binary_cross_entropy(a, y), [x])
    z = cylayers.randn(3, 2, dtype=cylayers.float64, requires_grad=True)
    pw = cylayers.tensor([2.0, 0.5], dtype=cylayers.float64)
    assert gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y, pos_weight=pw), [z])
    assert gradcheck(lambda a, b: F.mse_loss(a, b), [z, cylayers.randn(
        3, 2, dtype=cylayers.float64, requires_grad=True)])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(cylayers.tensor([1.5]), cylayers.tensor([1.0]))
    assert F.binary_cross_entropy(cylayers.tensor([0.0]), cylayers.tensor([1.0])).item() == 100.0
    big = F.binary_cross_entropy_with_logits(cylayers.tensor([1e4, -1e4]),
                                             cylayers.tensor([0.0, 1.0]))
    assert big.item() == pytest.approx(1e4)


def test_loss_modules_match_functional_and_repr():
    x = cylayers.randn(4, 3)
    t = cylayers.tensor([0, 1, 2, 1])
    assert nn.CrossEntropyLoss()(x, t).item() == F.cross_entropy(x, t).item()
    assert nn.NLLLoss(reduction="sum")(x, t).item() == F.nll_loss(x, t, reduction="sum").item()
    assert repr(nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss())
    assert repr(nn.MSELoss()) == repr(torch.nn.MSELoss())
    assert nn.MSELoss()(x, x).item() == 0
    assert nn.L1Loss()(x, x + 1).item() == pytest.approx(1)
    assert nn.BCEWithLogitsLoss()(x, (x > 0).float()).item() > 0
    assert nn.BCELoss()(x.sigmoid(), (x > 0).float()).item() > 0
