"""In-place ops and views: gradients match PyTorch, whether the in-place op hits the base of a
live view (the view's history is rebuilt) or the view itself (the base gets a CopySlices node).
And `.data` is a detached Tensor sharing storage, as in PyTorch."""
import numpy as np
import pytest
import torch

import cylayers
import cylayers.nn.functional as F
import torch.nn.functional as TF

# (name, cylayers in-place op, torch in-place op); each takes (tensor, other) where other is a
# tensor that requires grad and broadcasts to a row.
INPLACE_OPS = [
    ("add_", lambda t, o: t.add_(o), lambda t, o: t.add_(o)),
    ("add_alpha", lambda t, o: t.add_(o, alpha=-2.0), lambda t, o: t.add_(o, alpha=-2.0)),
    ("sub_", lambda t, o: t.sub_(o), lambda t, o: t.sub_(o)),
    ("mul_scalar", lambda t, o: t.mul_(2.0), lambda t, o: t.mul_(2.0)),
    ("mul_", lambda t, o: t.mul_(o), lambda t, o: t.mul_(o)),
    ("div_", lambda t, o: t.div_(o), lambda t, o: t.div_(o)),
    ("iadd", lambda t, o: t.__iadd__(o), lambda t, o: t.__iadd__(o)),
    ("relu_", lambda t, o: t.relu_(), lambda t, o: t.relu_()),
    ("sigmoid_", lambda t, o: t.sigmoid_(), lambda t, o: t.sigmoid_()),
    ("tanh_", lambda t, o: t.tanh_(), lambda t, o: t.tanh_()),
    ("clamp_", lambda t, o: t.clamp_(-0.5, 1.0), lambda t, o: t.clamp_(-0.5, 1.0)),
    ("leaky_relu", lambda t, o: F.leaky_relu(t, 0.1, inplace=True),
     lambda t, o: TF.leaky_relu(t, 0.1, inplace=True)),
    ("elu", lambda t, o: F.elu(t, inplace=True), lambda t, o: TF.elu(t, inplace=True)),
    ("selu", lambda t, o: F.selu(t, inplace=True), lambda t, o: TF.selu(t, inplace=True)),
    ("hardtanh", lambda t, o: F.hardtanh(t, inplace=True),
     lambda t, o: TF.hardtanh(t, inplace=True)),
    ("silu", lambda t, o: F.silu(t, inplace=True), lambda t, o: TF.silu(t, inplace=True)),
    ("setitem_all", lambda t, o: t.__setitem__(Ellipsis, o),
     lambda t, o: t.__setitem__(Ellipsis, o)),
    ("setitem_part", lambda t, o: t.__setitem__((Ellipsis, slice(0, 2)), o[..., :2]),
     lambda t, o: t.__setitem__((Ellipsis, slice(0, 2)), o[..., :2])),
    ("copy_", lambda t, o: t.copy_(o), lambda t, o: t.copy_(o)),
    ("zero_", lambda t, o: t.zero_(), lambda t, o: t.zero_()),
    ("fill_", lambda t, o: t.fill_(0.5), lambda t, o: t.fill_(0.5)),
]

X = np.array([[-1.0, 2.0, 0.5, -0.25], [1.5, -2.0, 0.75, 3.0], [0.2, -0.4, -1.2, 0.9]])
O = np.array([0.5, -1.5, 2.0, 0.25])


def _run(lib, op, scenario):
    """x -> h = 3x (non-leaf) -> a view of h -> an in-place op -> a loss using the view and h."""
    x = lib.tensor(X, requires_grad=True)
    other = lib.tensor(O, requires_grad=True)
    h = x * 3
    if scenario == "inplace_on_base":  # the view is taken first, then the base changes
        view = h[1]
        op(h, other)
    elif scenario == "inplace_on_view":  # the view itself changes; the base must see it
        view = h[1]
        op(view, other)
    elif scenario == "inplace_on_view_of_view":
        view = h.t()[1:3].t()[0]  # a chain of views: transpose, slice, transpose, select
        op(view, other[1:3])
    elif scenario == "inplace_on_reshaped_view":
        view = h.view(2, 6)[1]
        op(view.view(3, 2)[1], other[:2])
    loss = (view * view).sum() + (h * lib.tensor(np.arange(12.0).reshape(3, 4))).sum()
    loss.backward()
    return x.grad, other.grad, h.detach(), view.detach()


@pytest.mark.parametrize("scenario", ["inplace_on_base", "inplace_on_view",
                                      "inplace_on_view_of_view", "inplace_on_reshaped_view"])
@pytest.mark.parametrize("name,ours,theirs", INPLACE_OPS, ids=[o[0] for o in INPLACE_OPS])
def test_inplace_with_live_views_matches_pytorch(name, ours, theirs, scenario):
    got = _run(cylayers, ours, scenario)
    want = _run(torch, theirs, scenario)
    for g, w in zip(got, want):
        if w is None:
            assert g is None or not np.any(g.numpy())
            continue
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-6, atol=1e-12)


def test_issue_example_leaky_relu_inplace_on_base_of_a_view():
    x = cylayers.tensor([[-1.0, 2.0]], requires_grad=True)
    h = x * 3
    skip = h[0]
    F.leaky_relu(h, 0.1, inplace=True)
    (skip * skip).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[-0.18, 36.0]], rtol=1e-6)


def test_view_follows_base_that_starts_requiring_grad_through_an_inplace_copy():
    w = cylayers.tensor([1.0, 2.0], requires_grad=True)
    buf = cylayers.zeros(2, 2)
    row = buf[0]
    assert not row.requires_grad
    buf[0].copy_(w * 2)
    assert row.requires_grad and buf.requires_grad
    assert buf.grad_fn.name() == "CopySlices"
    (row * row).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 8 * w.detach().numpy())


def test_inplace_on_view_of_leaf_and_on_expanded_view_raise():
    x = cylayers.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[0].mul_(2)
    h = (x * 1)[None].expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element"):
        h.add_(1)
    with cylayers.no_grad():  # PyTorch allows it: nothing is recorded
        x[0].mul_(2)
    assert x.tolist() == [2.0, 1.0, 1.0]


def test_saved_tensor_modified_through_a_view_is_detected():
    x = cylayers.ones(3, requires_grad=True)
    y = (x * 1).exp()
    y[0].mul_(2)  # y is saved by exp's backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---------------------------------------------------------------- .data
def test_data_is_a_detached_tensor_sharing_storage():
    p = cylayers.nn.Parameter(cylayers.ones(3))
    d = p.data
    assert isinstance(d, cylayers.Tensor)
    assert not d.requires_grad and d.grad_fn is None
    d.mul_(3)  # in place through .data: allowed on a leaf, not tracked
    assert p.tolist() == [3.0, 3.0, 3.0] and p._version == 0
    p.data.zero_()
    p.data.copy_(cylayers.tensor([1.0, 2.0, 3.0]))
    p.data.normal_()
    p.data.uniform_(-1, 1)
    assert p.requires_grad and p.is_leaf


def test_data_setter_replaces_values_like_pytorch():
    p = cylayers.nn.Parameter(cylayers.ones(3))
    tp = torch.nn.Parameter(torch.ones(3))
    p.data = cylayers.zeros(2, dtype=cylayers.float64)
    tp.data = torch.zeros(2, dtype=torch.float64)
    assert p.shape == tuple(tp.shape) and str(p.dtype) == str(tp.dtype).replace("torch", "cylayers")
    assert p.requires_grad
    with pytest.raises(TypeError, match="has to be a tensor"):
        p.data = [1.0, 2.0]


@pytest.mark.parametrize("batch", [2, 256])
def test_max_of_data_returns_values_and_indices(batch):
    """PyTorch's CIFAR tutorial: `_, predicted = torch.max(outputs.data, 1)`."""
    rng = np.random.default_rng(batch)
    out = rng.standard_normal((batch, 10)).astype(np.float32)
    outputs = cylayers.tensor(out, requires_grad=True) * 1
    _, predicted = cylayers.max(outputs.data, 1)
    _, t_predicted = torch.max(torch.tensor(out, requires_grad=True).data, 1)
    np.testing.assert_array_equal(predicted.numpy(), t_predicted.numpy())
    values, indices = outputs.data.max(1)
    assert indices.dtype == cylayers.int64


def test_data_does_not_share_the_version_counter():
    x = cylayers.ones(3, requires_grad=True)
    y = (x * 1).exp()
    y.data.mul_(2)  # invisible to autograd, exactly as in PyTorch
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.e * np.ones(3), rtol=1e-6)
