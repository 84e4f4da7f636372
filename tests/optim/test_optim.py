"""Optimizers and schedulers: step-for-step parity with PyTorch, state_dict round trips."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn, optim
from helpers import assert_close

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True, weight_decay=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
]


def _models(dtype):
    cylayers.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2)).to(dtype)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    theirs = theirs.double() if dtype == cylayers.float64 else theirs
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("dtype", [cylayers.float32, cylayers.float64])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=str)
def test_updates_match_torch_step_for_step(name, kw, dtype):
    ours, theirs = _models(dtype)
    opt_o = getattr(optim, name)(ours.parameters(), **kw)
    opt_t = getattr(torch.optim, name)(theirs.parameters(), **kw)
    rng = np.random.default_rng(0)
    npd = np.float64 if dtype == cylayers.float64 else np.float32
    for _ in range(8):
        x = rng.standard_normal((6, 5)).astype(npd)
        for model, opt, lib in ((ours, opt_o, cylayers), (theirs, opt_t, torch)):
            opt.zero_grad()
            xx = cylayers.tensor(x) if lib is cylayers else torch.from_numpy(x)
            (model(xx) ** 2).mean().backward()
            opt.step()
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == cylayers.float64 else dict(rtol=1e-5,
                                                                            atol=1e-6)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.detach(), q, npd, **tol)


def test_param_groups_and_state_dict_round_trip(tmp_path):
    ours, _ = _models(cylayers.float32)
    params = list(ours.parameters())
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.1}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    ours(cylayers.randn(3, 5)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][1]["params"] == [2, 3] and sd["state"][0]["step"] == 1
    cylayers.save({"opt": sd, "model": ours.state_dict()}, tmp_path / "ckpt.cyl")
    loaded = cylayers.load(tmp_path / "ckpt.cyl")
    opt2 = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.01)
    opt2.load_state_dict(loaded["opt"])
    assert opt2.param_groups[1]["lr"] == 0.1
    np.testing.assert_array_equal(opt2.state[params[0]]["exp_avg"], opt.state[params[0]]["exp_avg"])
    assert opt2.state[params[0]]["step"] == 1


def test_zero_grad_and_errors():
    p = nn.Parameter(cylayers.ones(3))
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0, 0, 0]
    opt.zero_grad()
    assert p.grad is None
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([p], lr=0.1, nesterov=True)


@pytest.mark.parametrize("name,kw", [("StepLR", dict(step_size=3, gamma=0.5)),
                                     ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01)),
                                     ("CosineAnnealingLR", dict(T_max=3))])
def test_schedulers_match_torch(name, kw):
    p = nn.Parameter(cylayers.ones(1))
    q = torch.nn.Parameter(torch.ones(1))
    opt_o, opt_t = optim.SGD([p], lr=0.1), torch.optim.SGD([q], lr=0.1)
    s_o = getattr(optim.lr_scheduler, name)(opt_o, **kw)
    s_t = getattr(torch.optim.lr_scheduler, name)(opt_t, **kw)
    for _ in range(14):
        opt_o.step()
        opt_t.step()
        s_o.step()
        s_t.step()
        assert s_o.get_last_lr()[0] == pytest.approx(s_t.get_last_lr()[0], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", [
    dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True),
    dict(amsgrad=True), dict(maximize=True, amsgrad=True, weight_decay=0.05),
], ids=str)
def test_fused_adam_kernel_equals_the_numpy_steps_bit_for_bit(dtype, config):
    """The kernel rounds after every operation in PyTorch's order, as the numpy reference does:
    the same bits after several steps, NaN and Inf in the gradient included."""
    from cylayers.optim.adam import adam_reference
    rng = np.random.default_rng(4)
    shape = (37, 129)  # enough elements for both threads
    start = rng.standard_normal(shape).astype(dtype)
    fused = cylayers.nn.Parameter(cylayers.tensor(start.copy()))
    opt = optim.Adam([fused], lr=0.01, betas=(0.8, 0.95), eps=1e-6,
                     **{k: v for k, v in config.items() if k != "decoupled_weight_decay"},
                     decoupled_weight_decay=config.get("decoupled_weight_decay", False))
    group = dict(opt.param_groups[0])
    p, state = start.copy(), {}
    for step in range(4):
        g = rng.standard_normal(shape).astype(dtype)
        g[0, :3] = (np.nan, np.inf, -np.inf) if step == 2 else g[0, :3]
        fused.grad = cylayers.tensor(g.copy())
        opt.step()
        if not state:
            state = {"step": 0.0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        with np.errstate(invalid="ignore"):
            adam_reference(p, g, state, group)
    np.testing.assert_array_equal(fused.detach().numpy(), p)
    for key in ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ()):
        np.testing.assert_array_equal(opt.state[fused][key], state[key])


def test_adam_kernel_refuses_mismatched_state():
    from cylayers._kernels import optim as kernels
    a = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="differ in size"):
        kernels.adam_step(a, a, a, np.zeros(3, np.float32), np.empty(0, np.float32), 0.1, 0.9,
                          0.99, 1e-8, 0.0, False, False, 0.1, 1.0, 1)
