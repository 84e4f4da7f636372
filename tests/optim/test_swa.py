"""optim.swa_utils against PyTorch's: AveragedModel (SWA and EMA averages, buffers), SWALR's
lr sequence, update_bn's statistics, and the state_dict keys a PyTorch checkpoint has."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn, optim
from cylayers.optim import swa_utils
from helpers import assert_close


def _models():
    cylayers.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6),
                                 torch.nn.ReLU(), torch.nn.Linear(6, 2)).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("averaging", ["swa", "ema", "ema_buffers"])
def test_swa_training_matches_pytorch(averaging):
    ours, theirs = _models()
    kw = lambda lib: ({} if averaging == "swa" else  # noqa: E731
                      dict(multi_avg_fn=lib.optim.swa_utils.get_ema_multi_avg_fn(0.9),
                           use_buffers=averaging == "ema_buffers"))
    avg_o = swa_utils.AveragedModel(ours, **kw(cylayers))
    avg_t = torch.optim.swa_utils.AveragedModel(theirs, **kw(torch))
    opt_o = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    sched_o = swa_utils.SWALR(opt_o, swa_lr=0.02, anneal_epochs=3)
    sched_t = torch.optim.swa_utils.SWALR(opt_t, swa_lr=0.02, anneal_epochs=3)
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((8, 4)) for _ in range(6)]
    for step in range(6):
        for model, opt, lib in ((ours, opt_o, cylayers), (theirs, opt_t, torch)):
            opt.zero_grad()
            (model(lib.tensor(batches[step])) ** 2).mean().backward()
            opt.step()
        avg_o.update_parameters(ours)
        avg_t.update_parameters(theirs)
        sched_o.step()
        sched_t.step()
        assert sched_o.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-12)
    loader_o = [(cylayers.tensor(b),) for b in batches]
    loader_t = [(torch.tensor(b),) for b in batches]
    swa_utils.update_bn(loader_o, avg_o)
    torch.optim.swa_utils.update_bn(loader_t, avg_t)
    state_o, state_t = avg_o.state_dict(), avg_t.state_dict()
    assert list(state_o) == list(state_t)
    for k in state_t:
        assert_close(state_o[k], state_t[k].numpy(), np.float64)
    x = rng.standard_normal((5, 4))
    assert_close(avg_o.eval()(cylayers.tensor(x)), avg_t.eval()(torch.tensor(x)), np.float64)


@pytest.mark.parametrize("strategy,epochs", [("cos", 5), ("linear", 4), ("cos", 0)])
def test_swalr_sequence(strategy, epochs):
    w = cylayers.nn.Parameter(cylayers.ones(2))
    tw = torch.nn.Parameter(torch.ones(2))
    opt_o, opt_t = optim.SGD([w], lr=0.5), torch.optim.SGD([tw], lr=0.5)
    s_o = swa_utils.SWALR(opt_o, 0.05, anneal_epochs=epochs, anneal_strategy=strategy)
    s_t = torch.optim.swa_utils.SWALR(opt_t, 0.05, anneal_epochs=epochs,
                                      anneal_strategy=strategy)
    for _ in range(8):
        opt_o.step()
        opt_t.step()
        s_o.step()
        s_t.step()
        assert s_o.get_last_lr() == pytest.approx(s_t.get_last_lr(), rel=1e-12)
    with pytest.raises(ValueError, match="anneal_strategy"):
        swa_utils.SWALR(opt_o, 0.05, anneal_strategy="step")
