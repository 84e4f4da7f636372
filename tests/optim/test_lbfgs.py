"""LBFGS step for step as PyTorch's: the same losses, parameters and function-evaluation counts
on a small regression (fixed step and strong-Wolfe line search, short and long history, float64),
early exit on a small gradient, and its argument errors."""
import numpy as np
import pytest
import torch

import cylayers


def _run(lib, line_search_fn, history_size=100, steps=4, max_iter=20, lr=1):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 5)), rng.standard_normal((64, 1))
    w1 = lib.tensor(rng.standard_normal((5, 8)) * 0.5, requires_grad=True)
    w2 = lib.tensor(rng.standard_normal((8, 1)) * 0.5, requires_grad=True)
    xt, yt = lib.tensor(x), lib.tensor(y)
    opt = lib.optim.LBFGS([w1, w2], lr=lr, max_iter=max_iter, history_size=history_size,
                          line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        loss = ((lib.tanh(xt @ w1) @ w2 - yt) ** 2).mean()
        loss.backward()
        return loss
    losses = [opt.step(closure).item() for _ in range(steps)]
    state = opt.state[w1]
    return losses, w1.detach().numpy(), w2.detach().numpy(), state["func_evals"], \
        state["n_iter"]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size,max_iter,lr", [(100, 20, 1), (3, 20, 1), (5, 7, 0.5)])
def test_lbfgs_matches_pytorch(line_search_fn, history_size, max_iter, lr):
    theirs = _run(torch, line_search_fn, history_size, max_iter=max_iter, lr=lr)
    ours = _run(cylayers, line_search_fn, history_size, max_iter=max_iter, lr=lr)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6, atol=1e-7)
    assert ours[3:] == theirs[3:]  # function evaluations and iterations


def test_lbfgs_minimizes_the_rosenbrock_function_as_pytorch_does():
    ends = []
    for lib in (cylayers, torch):
        xy = lib.tensor([-1.5, 2.0], dtype=lib.float64, requires_grad=True)
        opt = lib.optim.LBFGS([xy], line_search_fn="strong_wolfe", max_iter=100)

        def closure():
            opt.zero_grad()
            loss = (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
            loss.backward()
            return loss
        for _ in range(5):
            opt.step(closure)
        ends.append(xy.detach().numpy())
    np.testing.assert_allclose(ends[0], [1.0, 1.0], atol=1e-4)
    np.testing.assert_allclose(ends[0], ends[1], rtol=1e-6)


def test_a_small_gradient_returns_at_once_and_errors():
    w = cylayers.zeros(3, requires_grad=True)
    opt = cylayers.optim.LBFGS([w])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    assert len(calls) == 1 and opt.state[w]["n_iter"] == 0
    assert opt.param_groups[0]["max_eval"] == 25  # max_iter * 5 / 4
    with pytest.raises(RuntimeError, match="LBFGS requires a closure"):
        opt.step(None)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        cylayers.optim.LBFGS([{"params": [w]}, {"params": [cylayers.zeros(1,
                                                                          requires_grad=True)]}])
    with pytest.raises(ValueError, match="only 'strong_wolfe' is supported"):
        cylayers.optim.LBFGS([w], line_search_fn="armijo")
