"""Random sampling functions (by their statistics and reproducibility), the Tensor extras
(in-place metadata changes, new, put_, apply_, conj/H/mH...), finfo / iinfo, asarray and
typename, each against PyTorch where PyTorch's answer is deterministic."""
import numpy as np
import pytest
import torch

import cylayers
from helpers import assert_close


def test_bernoulli_normal_poisson_statistics():
    cylayers.manual_seed(0)
    p = cylayers.full((20000,), 0.3)
    draws = cylayers.bernoulli(p)
    assert draws.dtype == cylayers.float32 and set(np.unique(draws.numpy())) <= {0.0, 1.0}
    assert abs(draws.mean().item() - 0.3) < 0.02
    assert abs(cylayers.empty(20000).bernoulli_(0.7).mean().item() - 0.7) < 0.02
    z = cylayers.normal(cylayers.full((20000,), 2.0), cylayers.full((20000,), 3.0))
    assert abs(z.mean().item() - 2.0) < 0.1 and abs(z.std().item() - 3.0) < 0.1
    assert cylayers.normal(0.0, 1.0, (2, 3)).shape == (2, 3)
    assert cylayers.normal(cylayers.zeros(2, 1, dtype=cylayers.float64), 1.0).dtype == \
        cylayers.float64
    lam = cylayers.poisson(cylayers.full((20000,), 4.0))
    assert abs(lam.mean().item() - 4.0) < 0.1 and (lam.numpy() == np.round(lam.numpy())).all()
    with pytest.raises(RuntimeError, match="p_in >= 0"):
        cylayers.bernoulli(cylayers.tensor([1.5]))
    with pytest.raises(RuntimeError, match="std >= 0"):
        cylayers.normal(cylayers.zeros(2), cylayers.tensor([1.0, -1.0]))


def test_fills_stay_in_their_ranges():
    cylayers.manual_seed(1)
    r = cylayers.empty(5000, dtype=cylayers.int64).random_(3, 7)
    assert r.numpy().min() == 3 and r.numpy().max() == 6
    assert cylayers.empty(5000).random_(4).numpy().max() == 3
    assert cylayers.empty(5000).exponential_(2.0).mean().item() == pytest.approx(0.5, abs=0.03)
    assert cylayers.empty(5000).geometric_(0.5).numpy().min() >= 1
    assert (cylayers.empty(5000).log_normal_(0.0, 0.5).numpy() > 0).all()
    assert np.median(cylayers.empty(5001).cauchy_(2.0, 1.0).numpy()) == pytest.approx(2.0,
                                                                                      abs=0.1)
    ri = cylayers.randint_like(cylayers.zeros(3000, dtype=cylayers.int32), 2, 5)
    assert ri.dtype == cylayers.int32 and set(np.unique(ri.numpy())) == {2, 3, 4}


def test_rng_state_round_trip():
    cylayers.manual_seed(3)
    state = cylayers.get_rng_state()
    a = (cylayers.rand(4), cylayers.bernoulli(cylayers.full((4,), 0.5)))
    cylayers.set_rng_state(state)
    b = (cylayers.rand(4), cylayers.bernoulli(cylayers.full((4,), 0.5)))
    assert all((x == y).all() for x, y in zip(a, b))
    assert state.dtype == cylayers.uint8


@pytest.mark.parametrize("name,args", [("unsqueeze_", (0,)), ("unsqueeze_", (-1,)),
                                       ("squeeze_", ()), ("t_", ()), ("transpose_", (0, 1)),
                                       ("swapaxes_", (1, 0))])
def test_in_place_metadata_changes(name, args):
    base = np.random.default_rng(0).standard_normal((3, 1 if name == "squeeze_" else 4))
    ours, theirs = cylayers.tensor(base), torch.tensor(base)
    assert getattr(ours, name)(*args) is ours
    getattr(theirs, name)(*args)
    assert_close(ours, theirs, np.float64)
    # inside a graph the tensor takes the view's history
    xo = cylayers.tensor(base, requires_grad=True)
    xt = torch.tensor(base, requires_grad=True)
    yo, yt = xo * 2, xt * 2
    getattr(yo, name)(*args)
    getattr(yt, name)(*args)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    (yo * cylayers.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    assert_close(xo.grad, xt.grad, np.float64)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(cylayers.tensor(base, requires_grad=True), name)(*args)


def test_tensor_extras_match_pytorch():
    x = np.arange(6.0).reshape(2, 3)
    for lib in (cylayers, torch):
        t = lib.tensor(x)
        assert tuple(t.new(2, 5).shape) == (2, 5) and t.new([1, 2]).dtype == t.dtype
    o, t = cylayers.tensor(x), torch.tensor(x)
    assert_close(o.mH, t.mH, np.float64)
    assert_close(o.H, t.H, np.float64)
    assert_close(o.adjoint(), t.adjoint(), np.float64)
    assert_close(o.conj(), t.conj(), np.float64)
    assert_close(o.real, t.real, np.float64)
    idx, src = [0, 5, 5], [10.0, 20.0, 30.0]
    src64 = np.array(src)
    assert_close(o.clone().put_(cylayers.tensor(idx), cylayers.tensor(src64), accumulate=True),
                 t.clone().put_(torch.tensor(idx), torch.tensor(src64), accumulate=True),
                 np.float64)
    assert_close(o.put(cylayers.tensor([1]), cylayers.tensor([-1.0], dtype=cylayers.float64)),
                 t.put(torch.tensor([1]), torch.tensor([-1.0], dtype=torch.float64)),
                 np.float64)
    with pytest.raises(RuntimeError, match="same dtype"):
        o.clone().put_(cylayers.tensor([0]), cylayers.tensor([1.0]))
    assert_close(o.clone().apply_(lambda v: v * v + 1), t.clone().apply_(lambda v: v * v + 1),
                 np.float64)
    assert_close(o.clone().map_(o, lambda a, b: a - b * 2),
                 t.clone().map_(t, lambda a, b: a - b * 2), np.float64)
    with pytest.raises(RuntimeError, match="imag"):
        o.imag


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_pytorch(name):
    ours, theirs = cylayers.finfo(getattr(cylayers, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.dtype == theirs.dtype


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_pytorch(name):
    ours, theirs = cylayers.iinfo(getattr(cylayers, name)), torch.iinfo(getattr(torch, name))
    assert (ours.bits, ours.min, ours.max, ours.dtype) == (theirs.bits, theirs.min, theirs.max,
                                                           theirs.dtype)
    with pytest.raises(TypeError):
        cylayers.iinfo(cylayers.float32)
    with pytest.raises(TypeError):
        cylayers.finfo(cylayers.int32)


def test_asarray_and_typename():
    a = np.ones(3, dtype=np.float32)
    t = cylayers.asarray(a)
    a[0] = 7  # shares memory, as torch.asarray does
    assert t[0].item() == 7
    copied = cylayers.asarray(a, copy=True)
    a[1] = 9
    assert copied[1].item() == 1
    assert str(cylayers.asarray([1.5]).dtype).split(".")[-1] == \
        str(torch.asarray([1.5]).dtype).split(".")[-1]
    assert str(cylayers.asarray([1, 2]).dtype).split(".")[-1] == \
        str(torch.asarray([1, 2]).dtype).split(".")[-1]
    assert cylayers.typename(cylayers.ones(2)).split(".")[-1] == \
        torch.typename(torch.ones(2)).split(".")[-1]
    assert cylayers.typename(3) == torch.typename(3)
