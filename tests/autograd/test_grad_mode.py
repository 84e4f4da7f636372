"""Grad mode is per thread (PyTorch's semantics): no_grad, enable_grad, set_grad_enabled,
inference_mode, as context managers, decorators and (set_grad_enabled) a plain call."""
import threading

import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn


def _train(model, data, target, steps=30):
    opt = cylayers.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(data), target)
        loss.backward()
        opt.step()
        with cylayers.no_grad():  # an eval pass between steps, as a training loop has
            model(data)
    return [p.detach().numpy().copy() for p in model.parameters()]


def _models_and_data(n):
    rng = np.random.default_rng(1)
    jobs = []
    for i in range(n):
        cylayers.manual_seed(i)
        model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 4))
        data = cylayers.tensor(rng.standard_normal((64, 16)).astype(np.float32))
        target = cylayers.tensor(rng.integers(0, 4, 64))
        jobs.append((model, data, target))
    return jobs


def test_threads_training_models_match_sequential_training():
    n = 4
    sequential = [_train(*job) for job in _models_and_data(n)]
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def work(i, job):
        try:
            barrier.wait()
            results[i] = _train(*job)
        except Exception as e:  # reported below, with the thread's index
            errors.append((i, e))

    threads = [threading.Thread(target=work, args=(i, job))
               for i, job in enumerate(_models_and_data(n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seq, par in zip(sequential, results):
        for a, b in zip(seq, par):
            np.testing.assert_array_equal(a, b)


def test_new_thread_starts_with_grad_enabled():
    seen = []
    with cylayers.no_grad():
        t = threading.Thread(target=lambda: seen.append(cylayers.is_grad_enabled()))
        t.start()
        t.join()
        assert not cylayers.is_grad_enabled()
    assert seen == [True]
    assert cylayers.is_grad_enabled()


def test_no_grad_in_one_thread_does_not_leak_into_another():
    inside, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with cylayers.no_grad():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold_no_grad)
    t.start()
    inside.wait(10)
    try:
        x = cylayers.ones(2, requires_grad=True)
        assert (x * 2).requires_grad
    finally:
        release.set()
        t.join()
    assert cylayers.is_grad_enabled()


def test_nesting_and_decorators_restore_the_previous_mode():
    @cylayers.no_grad()
    def f():
        return cylayers.is_grad_enabled()

    @cylayers.set_grad_enabled(False)
    def g():
        return cylayers.is_grad_enabled()

    assert cylayers.is_grad_enabled()  # the decorator form does not switch at definition
    assert f() is False and g() is False
    with cylayers.no_grad():
        with cylayers.enable_grad():
            assert cylayers.is_grad_enabled()
        assert not cylayers.is_grad_enabled()
        assert f() is False
    assert cylayers.is_grad_enabled()
    ctx = cylayers.no_grad()
    with ctx:
        with ctx:  # the same instance entered twice
            pass
        assert not cylayers.is_grad_enabled()
    assert cylayers.is_grad_enabled()


def test_set_grad_enabled_as_a_call_and_as_a_context():
    try:
        cylayers.set_grad_enabled(False)
        assert not cylayers.is_grad_enabled()
    finally:
        cylayers.set_grad_enabled(True)
    with cylayers.set_grad_enabled(False):
        assert not cylayers.is_grad_enabled()
    assert cylayers.is_grad_enabled()


@pytest.mark.parametrize("mode", [True, False])
def test_inference_mode_matches_pytorch(mode):
    x = cylayers.ones(2, requires_grad=True)
    tx = torch.ones(2, requires_grad=True)
    with cylayers.inference_mode(mode):
        y = x * 2
        ours = (cylayers.is_grad_enabled(), cylayers.is_inference_mode_enabled())
    with torch.inference_mode(mode):
        ty = tx * 2
        theirs = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
    assert ours == theirs
    assert y.requires_grad == ty.requires_grad
    assert not cylayers.is_inference_mode_enabled()

    @cylayers.inference_mode()
    def f():
        return cylayers.is_grad_enabled()

    assert f() is False and cylayers.is_grad_enabled()
