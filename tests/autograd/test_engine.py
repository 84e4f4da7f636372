"""The tape: accumulation, freeing, retain_graph, version counters, no_grad, deep graphs."""
import gc
import weakref

import numpy as np
import pytest

import cylayers
from cylayers import nn


def test_gradients_accumulate_into_leaves():
    x = cylayers.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_two_leaves_never_share_a_grad_array():
    a = cylayers.randn(3, requires_grad=True)
    b = cylayers.randn(3, requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.zero_()
    assert b.grad.numpy().tolist() == [1.0, 1.0, 1.0]


def test_leaf_grad_never_aliases_user_gradient():
    a = cylayers.randn(3, requires_grad=True)
    g = cylayers.ones(3)
    (a + 0).backward(g)
    a.grad.zero_()
    assert g.tolist() == [1.0, 1.0, 1.0]


def test_non_leaf_has_no_grad_and_graph_is_freed():
    x = cylayers.randn(4, requires_grad=True)
    y = x.exp()
    node = weakref.ref(y.grad_fn)
    y.sum().backward()
    assert y.grad is None
    assert y.grad_fn.saved_tensors == ()
    del y
    gc.collect()
    assert node() is None


def test_second_backward_raises_unless_retained():
    x = cylayers.randn(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp(x.data), rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_on_non_scalar_needs_gradient():
    x = cylayers.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        cylayers.randn(3).sum().backward()


def test_100k_op_chain_has_no_recursion_limit():
    x = cylayers.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_inplace_modification_of_saved_tensor_raises():
    a = cylayers.randn(3, requires_grad=True)
    b = a * 2
    c = b.exp()  # saves its output
    c.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
    d = a * 2
    e = d * d  # saves d
    d.mul_(3)
    with pytest.raises(RuntimeError, match="ExpBackward|MulBackward"):
        e.sum().backward()


def test_inplace_through_a_view_is_seen():
    a = cylayers.randn(2, 3, requires_grad=True)
    b = a * 1
    c = b.sigmoid()
    v = c.view(6)
    with cylayers.no_grad():
        v.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises():
    w = cylayers.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with cylayers.no_grad():
        w.add_(1)  # fine, as in PyTorch
    assert w._version == 1


def test_inplace_ops_are_differentiable():
    x = cylayers.randn(5, requires_grad=True)
    y = x * 2
    y.add_(3).mul_(4)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(5, 8.0))


def test_no_grad_and_enable_grad():
    x = cylayers.randn(3, requires_grad=True)
    with cylayers.no_grad():
        y = x * 2
        assert not cylayers.is_grad_enabled()
        with cylayers.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @cylayers.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert cylayers.is_grad_enabled()


def test_detach_and_requires_grad_flags():
    x = cylayers.randn(3, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        cylayers.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    assert x.detach().numpy().shape == (3,)


def test_broadcast_gradients_summed_back():
    a = cylayers.randn(4, 1, 3, requires_grad=True)
    b = cylayers.randn(5, 1, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (4, 1, 3) and b.grad.shape == (5, 1)
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b.data.sum(), (4, 1, 3)),
                               rtol=1e-5)


def test_custom_function_on_the_tape():
    class Cube(cylayers.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    x = cylayers.tensor([2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    y.backward()
    assert x.grad.item() == 12.0


def test_module_training_loop_reduces_loss():
    cylayers.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    x = cylayers.randn(64, 4)
    y = x.sum(1, keepdim=True)
    opt = cylayers.optim.SGD(model.parameters(), lr=0.05)
    first = None
    for _ in range(100):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first * 0.1


def test_every_use_of_a_leaf_points_to_its_one_accumulate_grad_node():
    from cylayers.autograd.function import AccumulateGrad
    x = cylayers.tensor([1.0, 2.0], requires_grad=True)
    a, b = x * 2, x.exp()
    (node,) = {n for n in a.grad_fn.next_nodes + b.grad_fn.next_nodes if n is not None}
    assert type(node) is AccumulateGrad and node.variable is x and x.is_leaf
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (a + b).sum().backward()
    # one hook call with the sum of both paths, then one accumulation
    np.testing.assert_allclose(seen[0], 2 + np.exp([1.0, 2.0]))
    assert len(seen) == 1
    np.testing.assert_allclose(x.grad.numpy(), seen[0])


def test_the_accumulate_grad_node_lives_only_as_long_as_a_graph():
    x = cylayers.tensor([1.0], requires_grad=True)
    y = x * 2
    node = weakref.ref(y.grad_fn.next_nodes[0])
    assert node() is not None
    del y
    gc.collect()
    assert node() is None and x._accumulator() is None
    assert (x * 3).grad_fn.next_nodes[0] is not None  # a new graph makes a new node


def test_a_fresh_gradient_is_adopted_by_its_leaf_not_copied(monkeypatch):
    """The gradient an op makes for a leaf becomes its .grad without a copy (the engine must
    not keep a reference that makes it look shared)."""
    from cylayers.autograd import engine
    flags = []
    accumulate = engine._accumulate

    def spy(leaf, grad, sole_owner=False):
        flags.append(sole_owner)
        return accumulate(leaf, grad, sole_owner)
    monkeypatch.setattr(engine, "_accumulate", spy)
    x = cylayers.randn(1000, requires_grad=True)
    w = cylayers.randn(1000, requires_grad=True)
    nn.functional.relu(x).backward(cylayers.ones(1000))
    assert flags == [True]
    (x * w).sum().backward()  # x.grad exists now: added in place; w's is adopted
    assert flags[1:] == [True, True]
    np.testing.assert_allclose(w.grad.numpy(), x.detach().numpy())


GRAD_FN_CASES = {
    "add": lambda L, F, x: x + 1, "mul": lambda L, F, x: x * x, "sum": lambda L, F, x: x.sum(),
    "mean": lambda L, F, x: x.mean(), "exp": lambda L, F, x: x.exp(),
    "relu": lambda L, F, x: F.relu(x), "sigmoid": lambda L, F, x: L.sigmoid(x),
    "tanh": lambda L, F, x: x.tanh(), "view": lambda L, F, x: x.view(12),
    "permute": lambda L, F, x: x.permute(1, 0), "slice": lambda L, F, x: x[1:],
    "mm": lambda L, F, x: x @ x.T, "softmax": lambda L, F, x: F.softmax(x, 1),
    "log_softmax": lambda L, F, x: F.log_softmax(x, 1), "gelu": lambda L, F, x: F.gelu(x),
    "nll_loss": lambda L, F, x: F.nll_loss(x, L.tensor([0, 1, 2])),
    "cross_entropy": lambda L, F, x: F.cross_entropy(x, L.tensor([0, 1, 2])),
    "linear": lambda L, F, x: F.linear(x, x, x[:, 0]),
    "linear no bias": lambda L, F, x: F.linear(x, x),
    "pow": lambda L, F, x: x ** 2, "neg": lambda L, F, x: -x, "div": lambda L, F, x: x / 2,
    "clone": lambda L, F, x: x.clone(), "cat": lambda L, F, x: L.cat([x, x]),
}


@pytest.mark.parametrize("case", GRAD_FN_CASES)
def test_grad_fn_names_are_pytorchs(case):
    import torch
    fn = GRAD_FN_CASES[case]
    ours = fn(cylayers, cylayers.nn.functional, cylayers.randn(3, 4, requires_grad=True))
    theirs = fn(torch, torch.nn.functional, torch.randn(3, 4, requires_grad=True))
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    assert repr(ours.grad_fn).startswith(f"<{theirs.grad_fn.name()} object at ")


def test_broadcast_mismatch_is_pytorchs_runtime_error():
    import torch
    for a, b in [((3,), (4,)), ((5, 2, 3), (4, 3)), ((2, 3), (2, 4))]:
        with pytest.raises(RuntimeError) as ours:
            cylayers.ones(*a) + cylayers.ones(*b)
        with pytest.raises(RuntimeError) as theirs:
            torch.ones(*a) + torch.ones(*b)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        cylayers.ones(3).add_(cylayers.ones(2, 3))
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        cylayers.ones(3) < cylayers.ones(4)


def test_manual_seed_returns_the_default_generator():
    g = cylayers.manual_seed(11)
    assert g is cylayers.default_generator and isinstance(g, cylayers.Generator)
    assert g.initial_seed() == 11 == cylayers.initial_seed()
    first = cylayers.randn(3, generator=g).tolist()
    cylayers.manual_seed(11)
    assert cylayers.randn(3).tolist() == first
    state = g.get_state()
    a = cylayers.rand(2).tolist()
    g.set_state(state)
    assert cylayers.rand(2).tolist() == a
    assert isinstance(cylayers.seed(), int)
