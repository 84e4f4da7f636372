"""nn.utils: clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn


def _models_with_grads(scale=1.0):
    cylayers.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32) * scale
    (ours(cylayers.tensor(x)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    return ours, theirs


@pytest.mark.parametrize("max_norm,norm_type", [(0.5, 2.0), (100.0, 2.0), (0.1, 1.0),
                                                (0.2, float("inf")), (0.3, 3.0)])
def test_clip_grad_norm_matches_pytorch(max_norm, norm_type):
    ours, theirs = _models_with_grads()
    total = nn.utils.clip_grad_norm_(ours.parameters(), max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type=norm_type)
    assert total.dtype == cylayers.float32 and total.shape == ()
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-5)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_nonfinite_and_empty():
    ours, theirs = _models_with_grads()
    next(ours.parameters()).grad._array[0, 0] = np.inf
    next(theirs.parameters()).grad[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(ours.parameters(), 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    single = cylayers.ones(3, requires_grad=True)
    (single * 4).sum().backward()
    assert np.isclose(nn.utils.clip_grad_norm_(single, 1.0).item(), np.sqrt(48))


def test_clip_grad_value_matches_pytorch():
    ours, theirs = _models_with_grads(scale=3.0)
    nn.utils.clip_grad_value_(ours.parameters(), 0.5)
    torch.nn.utils.clip_grad_value_(theirs.parameters(), 0.5)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)
        assert np.abs(p.grad.numpy()).max() <= 0.5


def test_parameters_to_vector_and_back():
    ours, theirs = _models_with_grads()
    vec = nn.utils.parameters_to_vector(ours.parameters())
    tvec = torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_allclose(vec.detach().numpy(), tvec.detach().numpy())
    assert vec.requires_grad and tvec.requires_grad
    (vec * vec).sum().backward()  # differentiable, as in PyTorch
    new = cylayers.arange(vec.numel(), dtype=cylayers.float32)
    nn.utils.vector_to_parameters(new, ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(tvec.numel(), dtype=torch.float32),
                                        theirs.parameters())
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), tp.detach().numpy())
        assert p.requires_grad and p.is_leaf
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        nn.utils.vector_to_parameters([1.0], ours.parameters())
