"""nn.utils: weight / spectral normalization (hook-based and parametrizations), parametrize
with a custom parametrization, BatchNorm fusion, functional_call and the split gradient
clipping, each against PyTorch with the same weights."""
import warnings

import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
from cylayers.nn.utils import parametrize
from helpers import assert_close

X = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)


def _copy_weights(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


def _compare(ours, theirs, calls=3):
    for _ in range(calls):
        out_o, out_t = ours(cylayers.tensor(X)), theirs(torch.tensor(X))
    assert_close(out_o, out_t)
    (out_o ** 2).sum().backward()
    (out_t ** 2).sum().backward()
    named_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, named_t[name].grad, rtol=1e-4, atol=1e-5)
    state_o, state_t = ours.state_dict(), theirs.state_dict()
    assert sorted(state_o) == sorted(state_t)
    for k in state_t:
        assert_close(state_o[k], state_t[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["weight_norm", "weight_norm_dim1", "spectral_norm",
                                  "param_weight_norm", "param_spectral_norm"])
def test_normalizations_match_pytorch(kind):
    def make(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            layer = lib.nn.Linear(4, 5)
            u = lib.nn.utils
            return {"weight_norm": lambda: u.weight_norm(layer),
                    "weight_norm_dim1": lambda: u.weight_norm(layer, dim=1),
                    "spectral_norm": lambda: u.spectral_norm(layer, n_power_iterations=2),
                    "param_weight_norm": lambda: u.parametrizations.weight_norm(layer),
                    "param_spectral_norm": lambda: u.parametrizations.spectral_norm(layer)}[
                kind]()
    ours, theirs = make(cylayers), make(torch)
    _copy_weights(ours, theirs)
    _compare(ours, theirs)
    ours.eval()
    theirs.eval()
    assert_close(ours(cylayers.tensor(X)), theirs(torch.tensor(X)))


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(-1, -2)


class TorchSymmetric(torch.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(-1, -2)


def test_custom_parametrization_and_removal():
    ours, theirs = nn.Linear(4, 4), torch.nn.Linear(4, 4)
    _copy_weights(ours, theirs)
    parametrize.register_parametrization(ours, "weight", Symmetric())
    torch.nn.utils.parametrize.register_parametrization(theirs, "weight", TorchSymmetric())
    assert type(ours).__name__ == type(theirs).__name__ == "ParametrizedLinear"
    assert parametrize.is_parametrized(ours, "weight")
    w = ours.weight.detach().numpy()
    np.testing.assert_array_equal(w, w.T)
    _compare(ours, theirs, calls=1)
    with parametrize.cached():
        assert ours.weight is ours.weight
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert type(ours) is nn.Linear and sorted(ours.state_dict()) == ["bias", "weight"]
    assert_close(ours.weight, theirs.weight)


@pytest.mark.parametrize("transpose", [False, True])
def test_conv_bn_fusion_matches_pytorch(transpose):
    conv_o = (nn.ConvTranspose2d if transpose else nn.Conv2d)(3, 4, 3)
    conv_t = (torch.nn.ConvTranspose2d if transpose else torch.nn.Conv2d)(3, 4, 3)
    bn_o, bn_t = nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    _copy_weights(conv_o, conv_t)
    rng = np.random.default_rng(1)
    state = {"weight": rng.random(4) + 0.5, "bias": rng.standard_normal(4),
             "running_mean": rng.standard_normal(4), "running_var": rng.random(4) + 0.2,
             "num_batches_tracked": np.array(3)}
    bn_o.load_state_dict({k: cylayers.tensor(v.astype(np.float32) if v.ndim else v)
                          for k, v in state.items()})
    bn_t.load_state_dict({k: torch.tensor(v.astype(np.float32) if v.ndim else v)
                          for k, v in state.items()})
    conv_o.eval(), bn_o.eval(), conv_t.eval(), bn_t.eval()
    fused_o = cylayers.nn.utils.fuse_conv_bn_eval(conv_o, bn_o, transpose=transpose)
    fused_t = torch.nn.utils.fuse_conv_bn_eval(conv_t, bn_t, transpose=transpose)
    assert_close(fused_o.weight, fused_t.weight, rtol=1e-5, atol=1e-6)
    assert_close(fused_o.bias, fused_t.bias, rtol=1e-5, atol=1e-6)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    assert_close(fused_o(cylayers.tensor(x)), bn_o(conv_o(cylayers.tensor(x))), rtol=1e-4,
                 atol=1e-5)
    lin_o, lin_t, bn1_o, bn1_t = nn.Linear(3, 4), torch.nn.Linear(3, 4), nn.BatchNorm1d(4), \
        torch.nn.BatchNorm1d(4)
    _copy_weights(lin_o, lin_t)
    bn1_o.load_state_dict({k: cylayers.tensor(v.astype(np.float32) if v.ndim else v)
                           for k, v in state.items()})
    bn1_t.load_state_dict({k: torch.tensor(v.astype(np.float32) if v.ndim else v)
                           for k, v in state.items()})
    for m in (lin_o, lin_t, bn1_o, bn1_t):
        m.eval()
    assert_close(cylayers.nn.utils.fuse_linear_bn_eval(lin_o, bn1_o).weight,
                 torch.nn.utils.fuse_linear_bn_eval(lin_t, bn1_t).weight, rtol=1e-5, atol=1e-6)


def test_functional_call_and_clipping_match_pytorch():
    ours, theirs = nn.Linear(4, 2), torch.nn.Linear(4, 2)
    _copy_weights(ours, theirs)
    new_w = np.ones((2, 4), np.float32)
    out_o = cylayers.func.functional_call(ours, {"weight": cylayers.tensor(new_w)},
                                          (cylayers.tensor(X),))
    out_t = torch.func.functional_call(theirs, {"weight": torch.tensor(new_w)},
                                       (torch.tensor(X),))
    assert_close(out_o, out_t)
    assert_close(ours.weight, theirs.weight)  # restored after the call
    with pytest.raises(RuntimeError, match="Unexpected key"):
        cylayers.func.functional_call(ours, {"nope": cylayers.ones(1)}, (cylayers.tensor(X),),
                                      strict=True)
    (ours(cylayers.tensor(X)) ** 2).sum().backward()
    (theirs(torch.tensor(X)) ** 2).sum().backward()
    total_o = cylayers.nn.utils.get_total_norm([p.grad for p in ours.parameters()], 3.0)
    total_t = torch.nn.utils.get_total_norm([p.grad for p in theirs.parameters()], 3.0)
    assert_close(total_o, total_t)
    cylayers.nn.utils.clip_grads_with_norm_(ours.parameters(), 0.5, total_o)
    torch.nn.utils.clip_grads_with_norm_(theirs.parameters(), 0.5, total_t)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad)
