"""nn.Module: registration, traversal, modes, state_dict naming/round trip with PyTorch, repr."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
from helpers import assert_close


def _pair_models():
    ours = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    return ours, theirs


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.block = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
        self.register_buffer("steps", cylayers.zeros(1))
        self.register_buffer("scratch", cylayers.zeros(1), persistent=False)
        self.heads = nn.ModuleList([nn.Linear(2, 1), nn.Linear(2, 1)])
        self.named = nn.ModuleDict({"a": nn.Identity()})

    def forward(self, x):
        return self.block(self.fc(x))


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["fc.weight", "fc.bias", "block.0.weight", "block.0.bias",
                     "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert list(net.state_dict()) == ["steps"] + names  # own entries first, as in PyTorch
    assert len(list(net.children())) == 4
    assert [n for n, _ in net.named_modules()][:4] == ["", "fc", "block", "block.0"]
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_matches_pytorch_names_and_loads_torch_weights():
    ours, theirs = _pair_models()
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd)
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    assert_close(ours(cylayers.tensor(x)), theirs(torch.from_numpy(x)))
    ours2, _ = _pair_models()
    ours2.load_state_dict(ours.state_dict())
    assert ours2(cylayers.tensor(x)).equal(ours(cylayers.tensor(x)))
    # and the other way round
    _, theirs2 = _pair_models()
    theirs2.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                             for k, v in ours.state_dict().items()})
    assert_close(ours(cylayers.tensor(x)), theirs2(torch.from_numpy(x)))


def test_load_state_dict_errors_name_the_key():
    ours, _ = _pair_models()
    sd = ours.state_dict()
    missing = OrderedDict(list(sd.items())[1:])
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "0.weight"'):
        ours.load_state_dict(missing)
    extra = dict(sd, bogus=np.zeros(1))
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "bogus"'):
        ours.load_state_dict(extra)
    result = ours.load_state_dict(extra, strict=False)
    assert result.unexpected_keys == ["bogus"]
    bad = dict(sd)
    bad["2.bias"] = np.zeros(4, dtype=np.float32)
    with pytest.raises(RuntimeError, match="size mismatch for 2.bias"):
        ours.load_state_dict(bad)


def test_repr_matches_pytorch_format():
    ours, theirs = _pair_models()
    assert repr(ours) == repr(theirs)
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    assert repr(nn.Unflatten(1, (2, 3))) == repr(torch.nn.Unflatten(1, (2, 3)))


def test_zero_grad_apply_and_dtype_conversion():
    net = Net()
    net(cylayers.randn(2, 3)).sum().backward()
    assert net.fc.weight.grad is not None
    net.zero_grad()
    assert net.fc.weight.grad is None
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net"
    net.double()
    assert net.fc.weight.dtype == cylayers.float64 and net.steps.dtype == cylayers.float64
    net.to(cylayers.float32)
    assert net.fc.weight.dtype == cylayers.float32
    out = net.float()(cylayers.randn(2, 3))
    assert out.dtype == cylayers.float32


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    assert len(seq[:2]) == 2
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    od = nn.Sequential(OrderedDict([("lin", nn.Linear(2, 2))]))
    assert list(od.state_dict()) == ["lin.weight", "lin.bias"]
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.extend([nn.Linear(1, 1)])
    assert len(ml) == 2 and len(list(ml.parameters())) == 4
    md = nn.ModuleDict({"x": nn.Linear(1, 1)})
    assert "x" in md and list(md.keys()) == ["x"]
    assert nn.Flatten()(cylayers.randn(2, 3, 4)).shape == (2, 12)
    assert nn.Unflatten(1, (3, 4))(cylayers.randn(2, 12)).shape == (2, 3, 4)
    x = cylayers.randn(2)
    assert nn.Identity()(x) is x


def test_linear_matches_torch_and_gradchecks():
    lin = nn.Linear(5, 3).double()
    tlin = torch.nn.Linear(5, 3).double()
    tlin.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                          for k, v in lin.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 4, 5))
    xo = cylayers.tensor(x, requires_grad=True)
    xt = torch.from_numpy(x).requires_grad_()
    yo, yt = lin(xo), tlin(xt)
    assert_close(yo, yt, np.float64)
    yo.sum().backward()
    yt.sum().backward()
    assert_close(xo.grad, xt.grad, np.float64)
    assert_close(lin.weight.grad, tlin.weight.grad, np.float64)
    assert_close(lin.bias.grad, tlin.bias.grad, np.float64)
    assert cylayers.autograd.gradcheck(
        lambda a, w, b: nn.functional.linear(a, w, b),
        [cylayers.randn(3, 5, dtype=cylayers.float64, requires_grad=True),
         cylayers.randn(2, 5, dtype=cylayers.float64, requires_grad=True),
         cylayers.randn(2, dtype=cylayers.float64, requires_grad=True)])
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        lin(cylayers.randn(2, 4, dtype=cylayers.float64))
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_default_init_distribution():
    cylayers.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w = lin.weight.numpy() if not lin.weight.requires_grad else lin.weight.detach().numpy()
    assert np.abs(w).max() <= bound
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
