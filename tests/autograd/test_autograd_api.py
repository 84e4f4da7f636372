"""torch.autograd.grad / backward(inputs=...), Tensor.register_hook and retain_grad, and Module
hooks, each compared with PyTorch."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn


def _pair(arr):
    return (cylayers.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True))


def _np(t):
    return None if t is None else t.detach().numpy()


def test_autograd_grad_matches_pytorch_and_leaves_dot_grad_alone():
    arr = np.array([[0.5, -1.0], [2.0, 0.25]])
    x, tx = _pair(arr)
    w, tw = _pair(np.array([1.5, -0.5]))
    y, ty = ((x * w).sin() * x).sum(), ((tx * tw).sin() * tx).sum()
    h, th = x * w, tx * tw
    gx, gw = cylayers.autograd.grad(y, [x, w], retain_graph=True)
    tgx, tgw = torch.autograd.grad(ty, [tx, tw], retain_graph=True)
    np.testing.assert_allclose(_np(gx), _np(tgx))
    np.testing.assert_allclose(_np(gw), _np(tgw))
    assert x.grad is None and w.grad is None
    # a non-leaf input and grad_outputs
    out, tout = h.exp(), th.exp()
    go = np.array([[1.0, 2.0], [3.0, 4.0]])
    (gh,) = cylayers.autograd.grad(out, h, grad_outputs=cylayers.tensor(go))
    (tgh,) = torch.autograd.grad(tout, th, grad_outputs=torch.tensor(go))
    np.testing.assert_allclose(_np(gh), _np(tgh))


def test_autograd_grad_unused_inputs_and_errors():
    x, tx = _pair(np.ones(2))
    z, tz = _pair(np.ones(2))
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        cylayers.autograd.grad((x * 2).sum(), [x, z])
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        torch.autograd.grad((tx * 2).sum(), [tx, tz])
    gx, gz = cylayers.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.tolist() == [2.0, 2.0]
    gx, gz = cylayers.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True)
    assert gz.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        cylayers.autograd.grad((x * 2).sum(), [cylayers.ones(2)])
    with pytest.raises(NotImplementedError, match="higher-order"):
        cylayers.autograd.grad((x * x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        cylayers.autograd.grad(x * 2, x)


def test_backward_with_inputs_accumulates_only_those():
    x, tx = _pair(np.array([1.0, 2.0]))
    w, tw = _pair(np.array([3.0, 4.0]))
    (x * w).sum().backward(inputs=[w])
    (tx * tw).sum().backward(inputs=[tw])
    assert x.grad is None and tx.grad is None
    np.testing.assert_allclose(_np(w.grad), _np(tw.grad))
    cylayers.autograd.backward([(x * w).sum(), (x * x).sum()])
    torch.autograd.backward([(tx * tw).sum(), (tx * tx).sum()])
    np.testing.assert_allclose(_np(x.grad), _np(tx.grad))


def test_register_hook_on_leaves_and_non_leaves():
    seen, tseen = [], []
    for lib, log in ((cylayers, seen), (torch, tseen)):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        x.register_hook(lambda g, log=log: log.append(("x", g.tolist())))
        h = x * 2
        handle = h.register_hook(lambda g: g * 10)  # replaces the gradient
        h.register_hook(lambda g, log=log: log.append(("h", g.tolist())))
        (h * h + h).sum().backward()  # h receives two contributions: hooks see their sum
        log.append(("grad", x.grad.tolist()))
        handle.remove()
        x.grad = None
        h2 = x * 2
        (h2 * h2).sum().backward()
        log.append(("after remove", x.grad.tolist()))
    assert seen == tseen


def test_retain_grad_and_hooks_errors():
    x, tx = _pair(np.array([1.0, 2.0]))
    h, th = x * 3, tx * 3
    h.retain_grad()
    th.retain_grad()
    assert h.retains_grad and th.retains_grad
    (h * h).sum().backward()
    (th * th).sum().backward()
    np.testing.assert_allclose(_np(h.grad), _np(th.grad))
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cylayers.ones(2).register_hook(lambda g: g)


def test_gradient_accumulates_in_place_into_existing_grad():
    x = cylayers.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    first = x.grad
    buffer = first._array
    (x * 3).sum().backward()
    assert x.grad is first and x.grad._array is buffer  # no new array per accumulation
    assert x.grad.tolist() == [5.0, 5.0, 5.0]


# ---------------------------------------------------------------- module hooks
def _models():
    cylayers.manual_seed(0)
    ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def test_forward_pre_hook_and_forward_hook_modify_and_remove():
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    results = []
    for lib, model in zip((cylayers, torch), _models()):
        calls = []
        pre = model[0].register_forward_pre_hook(lambda m, args: (args[0] * 2,))
        post = model[1].register_forward_hook(
            lambda m, args, out: calls.append(tuple(out.shape)) or out + 1)
        kw = model[2].register_forward_hook(
            lambda m, args, kwargs, out: calls.append(sorted(kwargs)), with_kwargs=True)
        out1 = model(lib.tensor(x)).detach().numpy()
        pre.remove()
        post.remove()
        kw.remove()
        out2 = model(lib.tensor(x)).detach().numpy()
        results.append((out1, out2, calls))
    (a1, a2, ac), (b1, b2, bc) = results
    np.testing.assert_allclose(a1, b1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a2, b2, rtol=1e-5, atol=1e-6)
    assert ac == bc


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # both libraries warn
def test_full_backward_hooks_see_and_replace_gradients_like_pytorch():
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    records = []
    for lib, model in zip((cylayers, torch), _models()):
        log = []

        def hook(m, grad_input, grad_output, log=log):
            log.append(("hook", [None if g is None else g.detach().numpy().copy()
                                 for g in grad_input],
                        [g.detach().numpy().copy() for g in grad_output]))
            return None if grad_input[0] is None else (grad_input[0] * 0.5,)

        def pre(m, grad_output, log=log):
            log.append(("pre", [g.detach().numpy().copy() for g in grad_output]))

        model[1].register_full_backward_hook(hook)
        model[2].register_full_backward_pre_hook(pre)
        first = model[0].register_full_backward_hook(hook)  # its input needs no grad
        model(lib.tensor(x)).pow(2).sum().backward()
        log.append(("w0", model[0].weight.grad.numpy().copy()))
        first.remove()
        records.append(log)
    assert [r[0] for r in records[0]] == [r[0] for r in records[1]]
    for ours, theirs in zip(*records):
        for a, b in zip(ours[1:], theirs[1:]):
            if isinstance(b, list):
                for u, v in zip(a, b):
                    assert (u is None) == (v is None)
                    if v is not None:
                        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_hook_handles_work_as_context_managers():
    m = nn.Linear(2, 2)
    calls = []
    with m.register_forward_hook(lambda *a: calls.append(1)):
        m(cylayers.ones(1, 2))
    m(cylayers.ones(1, 2))
    assert calls == [1]


def test_backward_hook_without_input_grad_warns_like_pytorch():
    m = nn.Linear(2, 2)
    m.register_full_backward_hook(lambda *a: None)
    with pytest.warns(UserWarning, match="Full backward hook is firing"):
        m(cylayers.ones(1, 2)).sum().backward()


# ---------------------------------------------------------------- custom autograd.Function
def _legendre(lib):
    class LegendrePolynomial3(lib.autograd.Function):
        """PyTorch's tutorial example: P3(x) = (5x^3 - 3x) / 2, written on tensors."""

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)
    return LegendrePolynomial3


def test_custom_function_on_tensors_matches_pytorch():
    arr = np.linspace(-1, 1, 7)
    results = []
    for lib in (cylayers, torch):
        P3 = _legendre(lib).apply
        x = lib.tensor(arr, requires_grad=True)
        y = P3(x * 2)
        assert y.requires_grad and not y.is_leaf
        (y * y).sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])
    assert cylayers.autograd.gradcheck(_legendre(cylayers).apply,
                                       [cylayers.tensor(arr, requires_grad=True)])


def test_custom_function_checks_saved_tensors_and_gradient_shapes():
    Leg = _legendre(cylayers)
    x = cylayers.ones(3, requires_grad=True)
    h = x * 1
    y = Leg.apply(h)
    h.mul_(2)  # modifies a tensor the function saved
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()

    class BadShape(cylayers.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum(0, keepdim=True)[:1, :1].repeat(3, 3)

    with pytest.raises(RuntimeError, match="returned an invalid gradient at index 0"):
        BadShape.apply(cylayers.ones(2, 2, requires_grad=True)).sum().backward()

    class NonDiff(cylayers.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x.argmax()
            ctx.mark_non_differentiable(out)
            return out

    assert not NonDiff.apply(cylayers.ones(3, requires_grad=True)).requires_grad
