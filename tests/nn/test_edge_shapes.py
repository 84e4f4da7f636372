"""Edge shapes, compared with PyTorch: 0-d tensors through every elementwise activation,
zero-size dimensions (empty batches, Linear(0, n) / Linear(n, 0)), degenerate cross-entropy."""
import numpy as np
import pytest
import torch

import cylayers
import cylayers.nn.functional as F
import torch.nn.functional as TF

ACTIVATIONS = [
    ("relu", {}), ("sigmoid", {}), ("tanh", {}), ("selu", {}), ("elu", {"alpha": 0.7}),
    ("celu", {"alpha": 1.3}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}),
    ("softplus", {"beta": 2.0}), ("mish", {}), ("hardtanh", {}), ("relu6", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
]


@pytest.mark.parametrize("value", [0.7, -1.3])
@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[f"{a}{k}" for a, k in ACTIVATIONS])
def test_zero_dim_tensors_through_activations(name, kw, value):
    x = cylayers.tensor(value, dtype=cylayers.float64, requires_grad=True)
    tx = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    y, ty = getattr(F, name)(x, **kw), getattr(TF, name)(tx, **kw)
    assert y.shape == tuple(ty.shape) == ()
    y.backward()
    ty.backward()
    assert x.grad.shape == ()
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.item(), tx.grad.item(), rtol=1e-12)


@pytest.mark.parametrize("module", ["Softmax", "LogSoftmax", "PReLU"])
def test_zero_dim_tensors_through_softmax_and_prelu(module):
    x = cylayers.tensor(0.5, requires_grad=True)
    tx = torch.tensor(0.5, requires_grad=True)
    args = (0,) if module != "PReLU" else ()
    m, tm = getattr(cylayers.nn, module)(*args), getattr(torch.nn, module)(*args)
    y, ty = m(x), tm(tx)
    y.backward()
    ty.backward()
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.item(), tx.grad.item(), rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # torch's, not ours
@pytest.mark.parametrize("batch", [0, 4])
@pytest.mark.parametrize("features", [(0, 3), (3, 0), (0, 0)])
def test_linear_with_zero_size_dimensions(features, batch):
    m = cylayers.nn.Linear(*features)
    tm = torch.nn.Linear(*features)
    x = cylayers.ones(batch, features[0], requires_grad=True)
    tx = torch.ones(batch, features[0], requires_grad=True)
    m(x).sum().backward()
    tm(tx).sum().backward()
    for p, tp in [(m.weight, tm.weight), (m.bias, tm.bias), (x, tx)]:
        assert p.grad is not None
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


@pytest.mark.parametrize("make,shape", [
    ("BatchNorm1d(3)", (0, 3)), ("BatchNorm2d(3)", (0, 3, 4, 4)),
    ("LayerNorm(3)", (0, 3)), ("LayerNorm([3, 4])", (2, 0, 3, 4)),
    ("GroupNorm(3, 3)", (0, 3, 4)),
    ("Linear(3, 2)", (0, 3)), ("Conv2d(3, 2, 3)", (0, 3, 5, 5)), ("PReLU(3)", (0, 3)),
])
def test_empty_batch_gives_zero_parameter_gradients(make, shape):
    m, tm = eval("cylayers.nn." + make), eval("torch.nn." + make)
    x = cylayers.zeros(*shape, requires_grad=True)
    tx = torch.zeros(*shape, requires_grad=True)
    y, ty = m(x), tm(tx)
    assert y.shape == tuple(ty.shape)
    y.sum().backward()
    ty.sum().backward()
    for (name, p), tp in zip(m.named_parameters(), tm.parameters()):
        assert p.grad is not None, name
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    for (name, b), tb in zip(m.named_buffers(), tm.buffers()):
        np.testing.assert_array_equal(b.numpy(), tb.numpy(), err_msg=name)


def test_cross_entropy_with_zero_classes_and_with_n_by_1_targets():
    with pytest.raises(IndexError, match="Target 0 is out of bounds"):
        F.cross_entropy(cylayers.zeros(4, 0, requires_grad=True),
                        cylayers.zeros(4, dtype=cylayers.int64))
    with pytest.raises(IndexError, match="Target 0 is out of bounds"):
        TF.cross_entropy(torch.zeros(4, 0), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not"):
        F.cross_entropy(cylayers.zeros(4, 3), cylayers.zeros(4, 1, dtype=cylayers.int64))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not"):
        TF.cross_entropy(torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.int64))


def test_cross_entropy_on_an_empty_batch_matches_pytorch():
    x = cylayers.zeros(0, 3, requires_grad=True)
    tx = torch.zeros(0, 3, requires_grad=True)
    loss = F.cross_entropy(x, cylayers.zeros(0, dtype=cylayers.int64))
    tloss = TF.cross_entropy(tx, torch.zeros(0, dtype=torch.int64))
    loss.backward()
    tloss.backward()
    assert np.isnan(loss.item()) and np.isnan(tloss.item())
    assert x.grad.shape == (0, 3)
