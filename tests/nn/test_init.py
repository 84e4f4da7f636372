"""nn.init: PyTorch's fan/gain conventions, checked on the moments of large tensors."""
import math

import numpy as np
import pytest
import torch

import cylayers
from cylayers.nn import init


@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("relu", None),
                                                ("leaky_relu", 0.2), ("tanh", None),
                                                ("selu", None), ("sigmoid", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param))


def _std(fn, shape=(256, 128, 3, 3), **kw):
    t = cylayers.empty(*shape)
    fn(t, **kw)
    return t.numpy().std(), t.numpy()


def test_initializers_have_the_right_moments():
    fan_in, fan_out = 128 * 9, 256 * 9
    std, arr = _std(init.kaiming_uniform_, a=math.sqrt(5))
    assert np.abs(arr).max() <= 1 / math.sqrt(fan_in) + 1e-7
    std, _ = _std(init.kaiming_normal_, nonlinearity="relu")
    assert std == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)
    std, _ = _std(init.kaiming_normal_, mode="fan_out", nonlinearity="relu")
    assert std == pytest.approx(math.sqrt(2 / fan_out), rel=0.02)
    std, arr = _std(init.xavier_uniform_, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(arr).max() <= bound + 1e-6
    std, _ = _std(init.xavier_normal_)
    assert std == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    std, arr = _std(init.uniform_, a=-2, b=3)
    assert arr.min() >= -2 and arr.max() <= 3
    std, arr = _std(init.normal_, mean=1.0, std=0.5)
    assert arr.mean() == pytest.approx(1.0, abs=0.01) and std == pytest.approx(0.5, rel=0.02)
    t = cylayers.empty(3, 4)
    assert init.constant_(t, 0.3).numpy().tolist() == [[pytest.approx(0.3)] * 4] * 3
    assert init.zeros_(t).numpy().sum() == 0 and init.ones_(t).numpy().sum() == 12
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(cylayers.empty(3))
    with pytest.raises(ValueError, match="Mode fan_up not supported"):
        init.kaiming_uniform_(cylayers.empty(3, 3), mode="fan_up")


def test_init_works_on_parameters_and_is_seeded():
    p = cylayers.nn.Parameter(cylayers.empty(10, 10))
    cylayers.manual_seed(5)
    init.normal_(p)
    first = p.detach().numpy().copy()
    cylayers.manual_seed(5)
    init.normal_(p)
    assert np.array_equal(first, p.detach().numpy())
    assert p.requires_grad and p.is_leaf


def test_orthogonal_dirac_sparse():
    import torch
    w = cylayers.empty(3, 2, 4)
    cylayers.nn.init.orthogonal_(w, gain=1.5)
    flat = w.numpy().reshape(3, -1)
    np.testing.assert_allclose(flat @ flat.T, 2.25 * np.eye(3), atol=1e-5)
    tall = cylayers.nn.init.orthogonal_(cylayers.empty(6, 3)).numpy()
    np.testing.assert_allclose(tall.T @ tall, np.eye(3), atol=1e-5)
    for shape, groups in (((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((2, 2, 3, 3, 3), 1)):
        ours = cylayers.nn.init.dirac_(cylayers.empty(*shape), groups)
        theirs = torch.nn.init.dirac_(torch.empty(*shape), groups)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    sparse = cylayers.nn.init.sparse_(cylayers.empty(10, 5), sparsity=0.25).numpy()
    assert ((sparse == 0).sum(0) == 3).all() and sparse.std() < 0.05
    with pytest.warns(FutureWarning, match="xavier_uniform_"):
        cylayers.nn.init.xavier_uniform(cylayers.empty(3, 3))
