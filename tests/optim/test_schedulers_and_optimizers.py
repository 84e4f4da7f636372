"""Schedulers: the same lr sequence as PyTorch over many steps, state_dict round trips;
optimizers: the same parameters as PyTorch after many steps."""
import copy
import warnings

import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn, optim

S = optim.lr_scheduler
TS = torch.optim.lr_scheduler


class Halve:
    """A callable object: its attributes go into LambdaLR's state_dict."""

    def __init__(self):
        self.k = 0.97

    def __call__(self, epoch):
        return self.k ** epoch


SCHEDULERS = {
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 1.0 / (1 + e)),
    "LambdaLR_object": lambda m, o: m.LambdaLR(o, Halve()),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95),
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=11),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.4, total_iters=6),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=9, eta_min=0.001),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=4, T_mult=2, eta_min=0.002),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=50),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=7, power=2.0),
    "CyclicLR": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=4),
    "CyclicLR_triangular2": lambda m, o: m.CyclicLR(o, 0.01, 0.3, step_size_up=3,
                                                    step_size_down=5, mode="triangular2"),
    "CyclicLR_exp_range": lambda m, o: m.CyclicLR(o, 0.02, 0.2, step_size_up=5,
                                                  mode="exp_range", gamma=0.97),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler([m.ExponentialLR(o, gamma=0.9),
                                                         m.StepLR(o, step_size=3, gamma=0.5)]),
    "OneCycleLR_three_phase_linear": lambda m, o: m.OneCycleLR(
        o, max_lr=[0.5, 0.2], total_steps=50, three_phase=True, anneal_strategy="linear"),
    "SequentialLR": lambda m, o: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=5),
                                                    m.ExponentialLR(o, 0.9),
                                                    m.StepLR(o, 4, 0.5)], milestones=[5, 20]),
}


def _optimizers(kind="SGD"):
    w = cylayers.nn.Parameter(cylayers.ones(2))
    b = cylayers.nn.Parameter(cylayers.ones(1))
    tw, tb = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(1))
    groups = [{"params": [w]}, {"params": [b], "lr": 0.05}]
    tgroups = [{"params": [tw]}, {"params": [tb], "lr": 0.05}]
    if kind == "SGD":
        return (optim.SGD(groups, lr=0.1, momentum=0.9),
                torch.optim.SGD(tgroups, lr=0.1, momentum=0.9))
    return optim.Adam(groups, lr=0.1), torch.optim.Adam(tgroups, lr=0.1)


def _run(make, module, opt, steps):
    sched = make(module, opt)
    lrs, momenta = [], []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
        momenta.append([g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups])
    return lrs, momenta, sched


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_lr_sequence_matches_pytorch(name, kind):
    steps = 49 if name.startswith("OneCycle") else 60
    ours_opt, theirs_opt = _optimizers(kind)
    ours = _run(SCHEDULERS[name], S, ours_opt, steps)
    theirs = _run(SCHEDULERS[name], TS, theirs_opt, steps)
    np.testing.assert_allclose(np.array(ours[0]), np.array(theirs[0]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.array(ours[1], dtype=float), np.array(theirs[1], dtype=float),
                               rtol=1e-12)
    assert [g["lr"] for g in ours_opt.param_groups] == pytest.approx(
        [g["lr"] for g in theirs_opt.param_groups], rel=1e-12)


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_state_dict_round_trip_continues_the_same_sequence(name):
    steps = 49 if name.startswith("OneCycle") else 40
    opt, _ = _optimizers()
    full, _, _ = _run(SCHEDULERS[name], S, opt, steps)

    opt2, _ = _optimizers()
    sched = SCHEDULERS[name](S, opt2)
    for _ in range(steps // 2):
        opt2.step()
        sched.step()
    saved_sched = copy.deepcopy(sched.state_dict())
    saved_opt = opt2.state_dict()
    opt3, _ = _optimizers()  # PyTorch's resume order: build both, then load both states
    resumed = SCHEDULERS[name](S, opt3)
    opt3.load_state_dict(saved_opt)
    resumed.load_state_dict(saved_sched)
    rest = []
    for _ in range(steps - steps // 2):
        opt3.step()
        resumed.step()
        rest.append(list(resumed.get_last_lr()))
    np.testing.assert_allclose(np.array(rest), np.array(full[steps // 2:]), rtol=1e-12)


def test_lambda_state_dict_saves_callable_objects_but_not_functions():
    opt, _ = _optimizers()
    s = S.LambdaLR(opt, [lambda e: 1.0, Halve()])
    state = s.state_dict()
    assert state["lr_lambdas"][0] is None and state["lr_lambdas"][1] == {"k": 0.97}
    state["lr_lambdas"][1] = {"k": 0.5}
    s.load_state_dict(state)
    assert s.lr_lambdas[1].k == 0.5


@pytest.mark.parametrize("kw", [{}, {"mode": "max", "threshold_mode": "abs", "threshold": 0.1},
                                {"patience": 2, "cooldown": 3, "factor": 0.5, "min_lr": 0.01},
                                {"min_lr": [0.0, 0.02], "eps": 1e-3}])
def test_reduce_lr_on_plateau_matches_pytorch(kw):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.9, 0.89, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96,
               0.97, 0.98, 0.99, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5] * 3
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = S.ReduceLROnPlateau(ours_opt, **kw), TS.ReduceLROnPlateau(theirs_opt, **kw)
    for m in metrics:
        ours.step(m)
        theirs.step(m)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    state = ours.state_dict()
    fresh = S.ReduceLROnPlateau(_optimizers()[0], **kw)
    fresh.load_state_dict(state)
    assert fresh.best == ours.best and fresh.num_bad_epochs == ours.num_bad_epochs


def test_scheduler_stepping_before_optimizer_warns_like_pytorch():
    opt, topt = _optimizers()
    s, ts = S.StepLR(opt, 2), TS.StepLR(topt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        ts.step()
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.step()


# ---------------------------------------------------------------- optimizers
OPTIMIZERS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, maximize=True, foreach=False)),
    ("Adam", dict(lr=0.01, weight_decay=0.01, amsgrad=True, foreach=True, fused=False)),
    ("Adam", dict(lr=0.01, maximize=True, capturable=False)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.99), maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, maximize=True, foreach=False)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1,
                     eps=1e-8, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.01, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=1e-3, alpha=0.5, t0=3, weight_decay=0.01)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.01, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
]


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[f"{o[0]}-{i}" for i, o in
                                                    enumerate(OPTIMIZERS)])
def test_optimizer_matches_pytorch_over_many_steps(name, kw):
    cylayers.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    ours, theirs = ours.double(), theirs.double()
    opt = getattr(optim, name)(ours.parameters(), **kw)
    topt = getattr(torch.optim, name)(theirs.parameters(), **kw)
    rng = np.random.default_rng(1)
    for step in range(60):
        x = rng.standard_normal((16, 5))
        y = rng.integers(0, 3, 16)
        for model, o, lib in ((ours, opt, cylayers), (theirs, topt, torch)):
            o.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            o.step()
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-9,
                                   atol=1e-11)
    state, tstate = opt.state_dict(), topt.state_dict()
    assert sorted(state["param_groups"][0]) == sorted(tstate["param_groups"][0])


def test_differentiable_is_refused_and_adagrad_state_exists_up_front():
    params = [cylayers.nn.Parameter(cylayers.ones(2))]
    for name in ("SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"):
        with pytest.raises(NotImplementedError, match="differentiable=True"):
            getattr(optim, name)(params, differentiable=True)
    opt = optim.Adagrad(params, initial_accumulator_value=0.5)
    topt = torch.optim.Adagrad([torch.nn.Parameter(torch.ones(2))], initial_accumulator_value=0.5)
    assert len(opt.state_dict()["state"]) == len(topt.state_dict()["state"]) == 1
