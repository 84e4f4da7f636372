"""Loss edge cases where PyTorch defines the answer: all targets ignored, probability targets
that require grad, BCE target range and dtypes, the broadcasting warning of MSE/L1."""
import warnings

import numpy as np
import pytest
import torch

import cylayers
import cylayers.nn.functional as F
import torch.nn.functional as TF


def _both(shape, seed=0):
    arr = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return (cylayers.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True))


@pytest.mark.parametrize("loss,kw", [
    ("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.1}),
    ("cross_entropy", {"label_smoothing": 0.2, "weight": [1.0, 2.0, 3.0]}),
    ("cross_entropy", {"weight": [1.0, 2.0, 3.0]}),
    ("nll_loss", {}), ("nll_loss", {"weight": [1.0, 2.0, 3.0]})])
def test_all_targets_ignored_gives_nan_loss_and_zero_gradients(loss, kw):
    x, tx = _both((4, 3))
    target = np.full(4, -100)
    w = kw.get("weight")
    ours_kw = dict(kw, weight=None if w is None else cylayers.tensor(w))
    theirs_kw = dict(kw, weight=None if w is None else torch.tensor(w))
    out = getattr(F, loss)(x, cylayers.tensor(target), **ours_kw)
    tout = getattr(TF, loss)(tx, torch.tensor(target), **theirs_kw)
    out.backward()
    tout.backward()
    assert np.isnan(out.item()) and np.isnan(tout.item())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    assert not np.any(x.grad.numpy())


def test_one_optimizer_step_on_an_all_ignored_batch_keeps_weights_finite():
    model = cylayers.nn.Linear(3, 3)
    opt = cylayers.optim.SGD(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(cylayers.randn(4, 3)), cylayers.full((4,), -100,
                                                                        dtype=cylayers.int64))
    loss.backward()
    opt.step()
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.15}, {"reduction": "sum"},
                                {"reduction": "none"}, {"weight": [0.5, 1.0, 2.0, 1.5]}])
def test_probability_targets_get_their_gradient(kw):
    x, tx = _both((5, 4))
    probs = np.random.default_rng(3).dirichlet(np.ones(4), size=5).astype(np.float32)
    p, tp = cylayers.tensor(probs, requires_grad=True), torch.tensor(probs, requires_grad=True)
    w = kw.get("weight")
    out = F.cross_entropy(x, p, **dict(kw, weight=None if w is None else cylayers.tensor(w)))
    tout = TF.cross_entropy(tx, tp, **dict(kw, weight=None if w is None else torch.tensor(w)))
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [1.5, -0.1])
def test_bce_rejects_targets_outside_0_1(bad):
    x = cylayers.tensor([0.2, 0.5, 0.9])
    y = [0.0, bad, 1.0]
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(x, cylayers.tensor(y))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        TF.binary_cross_entropy(torch.tensor([0.2, 0.5, 0.9]), torch.tensor(y))


def test_bce_target_dtype_must_match_like_pytorch():
    x = cylayers.tensor([0.2, 0.5])
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        F.binary_cross_entropy(x, cylayers.tensor([0.0, 1.0], dtype=cylayers.float64))
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        TF.binary_cross_entropy(torch.tensor([0.2, 0.5]), torch.tensor([0.0, 1.0],
                                                                        dtype=torch.float64))


@pytest.mark.parametrize("x_dtype,y_dtype", [("float32", "float64"), ("float64", "float32"),
                                             ("float32", "float32")])
def test_bce_with_logits_follows_pytorch_dtype_promotion(x_dtype, y_dtype):
    xs = np.array([-2.0, 0.3, 4.0])
    ys = np.array([0.0, 0.25, 1.0])
    x = cylayers.tensor(xs, dtype=getattr(cylayers, x_dtype), requires_grad=True)
    y = cylayers.tensor(ys, dtype=getattr(cylayers, y_dtype), requires_grad=True)
    tx = torch.tensor(xs, dtype=getattr(torch, x_dtype), requires_grad=True)
    ty = torch.tensor(ys, dtype=getattr(torch, y_dtype), requires_grad=True)
    out = F.binary_cross_entropy_with_logits(x, y, pos_weight=cylayers.tensor([1.0, 2.0, 0.5]))
    tout = TF.binary_cross_entropy_with_logits(tx, ty, pos_weight=torch.tensor([1.0, 2.0, 0.5]))
    assert str(out.dtype).split(".")[-1] == str(tout.dtype).split(".")[-1]
    out.backward()
    tout.backward()
    for ours, theirs in ((out, tout), (x.grad, tx.grad), (y.grad, ty.grad)):
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5)


def test_bce_with_logits_rejects_integer_targets():
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        F.binary_cross_entropy_with_logits(cylayers.zeros(3),
                                           cylayers.ones(3, dtype=cylayers.int64))
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        TF.binary_cross_entropy_with_logits(torch.zeros(3), torch.ones(3, dtype=torch.int64))


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss"])
def test_broadcasting_shapes_warn_like_pytorch(loss):
    x, tx = _both((3,))
    with pytest.warns(UserWarning, match="different to the input size.*broadcasting"):
        out = getattr(F, loss)(x, cylayers.ones(3, 1))
    with pytest.warns(UserWarning, match="different to the input size.*broadcasting"):
        tout = getattr(TF, loss)(tx, torch.ones(3, 1))
    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(F, loss)(x, cylayers.ones(3))  # same shapes: no warning
