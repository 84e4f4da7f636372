"""Core tensor ops: PyTorch parity (values and gradients, float32 and float64, broadcasting)
and float64 gradcheck for every differentiable op."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers.autograd import gradcheck
from helpers import assert_close, to_torch

# name -> (function taking the library module and inputs, input shapes, value range)
OPS = {
    "add": (lambda L, a, b: a + b, [(3, 4), (4,)], None),
    "add_scalar": (lambda L, a: 2.5 + a, [(2, 3)], None),
    "sub": (lambda L, a, b: a - b, [(2, 1, 4), (3, 1)], None),
    "rsub": (lambda L, a: 1.0 - a, [(5,)], None),
    "mul": (lambda L, a, b: a * b, [(2, 3, 4), (1, 3, 1)], None),
    "div": (lambda L, a, b: a / b, [(3, 4), (3, 4)], "positive"),
    "rdiv": (lambda L, a: 2.0 / a, [(3, 4)], "positive"),
    "neg": (lambda L, a: -a, [(3,)], None),
    "pow_scalar": (lambda L, a: a ** 3, [(3, 4)], None),
    "pow_frac": (lambda L, a: a ** 0.5, [(3, 4)], "positive"),
    "pow_tensor": (lambda L, a, b: a ** b, [(3, 4), (3, 4)], "positive"),
    "rpow": (lambda L, a: 2.0 ** a, [(4,)], None),
    "matmul_2d": (lambda L, a, b: a @ b, [(3, 4), (4, 5)], None),
    "matmul_batched_bcast": (lambda L, a, b: a @ b, [(2, 3, 4), (4, 2)], None),
    "matmul_vec_mat": (lambda L, a, b: a @ b, [(4,), (4, 3)], None),
    "matmul_mat_vec": (lambda L, a, b: a @ b, [(2, 3, 4), (4,)], None),
    "matmul_dot": (lambda L, a, b: a @ b, [(4,), (4,)], None),
    "exp": (lambda L, a: a.exp(), [(3, 4)], None),
    "log": (lambda L, a: a.log(), [(3, 4)], "positive"),
    "sqrt": (lambda L, a: a.sqrt(), [(3, 4)], "positive"),
    "abs": (lambda L, a: a.abs(), [(3, 4)], None),
    "clamp": (lambda L, a: a.clamp(-0.5, 0.4), [(5, 4)], None),
    "clamp_min": (lambda L, a: a.clamp(min=0.1), [(5, 4)], None),
    "sum_all": (lambda L, a: a.sum(), [(3, 4)], None),
    "sum_dim": (lambda L, a: a.sum(1), [(3, 4, 2)], None),
    "sum_dims_keep": (lambda L, a: a.sum((0, 2), keepdim=True), [(3, 4, 2)], None),
    "mean_all": (lambda L, a: a.mean(), [(3, 4)], None),
    "mean_dim": (lambda L, a: a.mean(-1, keepdim=True), [(3, 4)], None),
    "var_all": (lambda L, a: a.var(), [(3, 4)], None),
    "var_dim_biased": (lambda L, a: a.var(0, unbiased=False), [(5, 4)], None),
    "std_dim": (lambda L, a: a.std(1), [(3, 6)], None),
    "max_all": (lambda L, a: a.max(), [(3, 4)], None),
    "max_dim": (lambda L, a: a.max(1)[0], [(3, 4)], None),
    "min_dim_keep": (lambda L, a: a.min(0, keepdim=True).values, [(3, 4)], None),
    "view": (lambda L, a: a.view(2, -1) * 2, [(3, 4)], None),
    "reshape_T": (lambda L, a: a.T.reshape(-1), [(3, 4)], None),
    "flatten": (lambda L, a: a.flatten(1) * 1.5, [(2, 3, 4)], None),
    "squeeze_unsqueeze": (lambda L, a: a.unsqueeze(0).squeeze(2) * 3, [(3, 1, 4)], None),
    "transpose": (lambda L, a: a.transpose(0, 2) * 2, [(2, 3, 4)], None),
    "permute": (lambda L, a: a.permute(2, 0, 1) * 2, [(2, 3, 4)], None),
    "expand": (lambda L, a: a.expand(3, 2, 4) * 2, [(2, 1)], None),
    "getitem_slice": (lambda L, a: a[1:, ::2] * 2, [(4, 5)], None),
    "getitem_int": (lambda L, a: a[1] * 2, [(4, 5)], None),
    "getitem_fancy_repeat": (lambda L, a: a[L.tensor([0, 2, 0])] * 2, [(4, 5)], None),
    "cat": (lambda L, a, b: L.cat([a, b], 1), [(2, 3), (2, 4)], None),
    "stack": (lambda L, a, b: L.stack([a, b], 0), [(2, 3), (2, 3)], None),
    "where": (lambda L, a, b: L.where(a > 0, a, b), [(3, 4), (3, 4)], None),
    "chain": (lambda L, a, b: ((a * b).exp() - a / (b.abs() + 1)).sum(0), [(3, 4), (3, 4)],
              None),
    "reuse": (lambda L, a: a * a + a, [(3, 4)], None),
}


def _inputs(shapes, kind, dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = []
    for s in shapes:
        a = rng.standard_normal(s)
        if kind == "positive":
            a = np.abs(a) + 0.5
        arrays.append(a.astype(dtype))
    return arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_parity_with_torch(name, dtype):
    fn, shapes, kind = OPS[name]
    arrays = _inputs(shapes, kind, dtype)
    ours = [cylayers.tensor(a, requires_grad=True) for a in arrays]
    theirs = [to_torch(a, requires_grad=True) for a in arrays]
    out_o, out_t = fn(cylayers, *ours), fn(torch, *theirs)
    assert out_o.dtype == np.dtype(dtype)
    assert_close(out_o, out_t, dtype)
    grad = np.random.default_rng(1).standard_normal(out_t.shape).astype(dtype)
    out_o.backward(cylayers.tensor(grad))
    out_t.backward(torch.from_numpy(grad))
    for o, t in zip(ours, theirs):
        assert_close(o.grad, t.grad, dtype)


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck(name):
    fn, shapes, kind = OPS[name]
    arrays = _inputs(shapes, kind, np.float64, seed=3)
    if name == "max_all" or name.startswith("max") or name.startswith("min"):
        arrays = [a + np.arange(a.size).reshape(a.shape) * 0.1 for a in arrays]  # no ties
    if name == "clamp" or name == "clamp_min" or name == "abs" or name == "where":
        arrays = [np.where(np.abs(a) < 0.05, 0.3, a) for a in arrays]  # away from kinks
    if name == "clamp":
        arrays = [np.where(np.abs(a - 0.4) < 0.05, 0.0, a) for a in arrays]
    inputs = [cylayers.tensor(a, requires_grad=True) for a in arrays]
    assert gradcheck(lambda *xs: fn(cylayers, *xs), inputs)


def test_gradcheck_detects_a_wrong_backward():
    class WrongSquare(cylayers.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g * ctx.saved_tensors[0]  # missing factor 2

    x = cylayers.randn(4, dtype=cylayers.float64, requires_grad=True)
    with pytest.raises(cylayers.autograd.GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongSquare.apply, [x])


def test_exact_formulas():
    x = cylayers.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert y.item() == 14.0
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    m = cylayers.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((m @ m).numpy(), [[7.0, 10.0], [15.0, 22.0]])
    assert cylayers.tensor([1.0, 2.0, 3.0, 4.0]).var().item() == pytest.approx(5 / 3)


def test_dtype_rules_match_torch():
    f32 = cylayers.ones(2)
    f64 = cylayers.ones(2, dtype=cylayers.float64)
    i64 = cylayers.tensor([1, 2])
    assert i64.dtype == cylayers.int64
    assert cylayers.tensor([1.0, 2.0]).dtype == cylayers.float32
    assert cylayers.tensor(np.zeros(2)).dtype == cylayers.float64  # numpy keeps its dtype
    assert (f32 + f64).dtype == cylayers.float64
    assert (f32 + 1.5).dtype == cylayers.float32
    assert (i64 + 1.5).dtype == cylayers.float32
    assert (i64 * f32).dtype == cylayers.float32
    assert (i64 / i64).dtype == cylayers.float32
    assert (i64 + 1).dtype == cylayers.int64
    assert f32.double().dtype == cylayers.float64 and f64.float().dtype == cylayers.float32
    assert f32.long().dtype == cylayers.int64
    assert repr(cylayers.float32) == "cylayers.float32"


def test_creation_functions():
    assert cylayers.zeros(2, 3).shape == (2, 3)
    assert cylayers.ones((2, 3), dtype=cylayers.float64).dtype == cylayers.float64
    assert cylayers.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert cylayers.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert cylayers.arange(5).dtype == cylayers.int64
    assert cylayers.arange(0, 1, 0.5).dtype == cylayers.float32
    assert cylayers.empty(3).shape == (3,)
    r = cylayers.randn(3, 4, requires_grad=True)
    assert r.requires_grad and r.dtype == cylayers.float32
    assert cylayers.rand(100).numpy().min() >= 0
    assert cylayers.zeros_like(r).shape == r.shape and not cylayers.zeros_like(r).requires_grad
    assert cylayers.ones_like(r, dtype=cylayers.float64).dtype == cylayers.float64
    assert cylayers.randn_like(r).shape == r.shape
    arr = np.arange(6.0)
    t = cylayers.from_numpy(arr)
    arr[0] = 42
    assert t[0].item() == 42  # no copy
    c = cylayers.tensor(arr)
    arr[1] = 43
    assert c[1].item() == 1  # tensor() copies


def test_manual_seed_reproducible():
    cylayers.manual_seed(123)
    a = cylayers.randn(5)
    cylayers.manual_seed(123)
    b = cylayers.randn(5)
    assert a.equal(b)
    assert not a.equal(cylayers.randn(5))


def test_tensor_api():
    x = cylayers.arange(24).reshape(2, 3, 4).float()
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24
    assert x.view(x.size(0), -1).shape == (2, 12)
    assert x.flatten().shape == (24,)
    assert x.permute(2, 0, 1).contiguous().is_contiguous()
    assert not x.transpose(0, 1).is_contiguous()
    assert x.sum(dim=1).shape == (2, 4)
    assert x.max(dim=2).indices.tolist() == [[3, 3, 3], [3, 3, 3]]
    assert x.argmax().item() == 23
    assert x[0, 1, 2].item() == 6.0
    assert (x > 10).sum().item() == 13
    assert cylayers.tensor(3.5).item() == 3.5
    assert x.mean(dim=(0, 2)).tolist() == pytest.approx([7.5, 11.5, 15.5])
    assert x.T.shape == (4, 3, 2)
    y = cylayers.zeros(3)
    y[1] = 5
    assert y.tolist() == [0, 5, 0]
    y.add_(1).mul_(2)
    assert y.tolist() == [2, 12, 2]
    y.zero_()
    assert y.tolist() == [0, 0, 0]
    y.fill_(3).copy_(cylayers.tensor([1.0, 2.0, 3.0]))
    assert y.tolist() == [1, 2, 3]
    assert "tensor([1., 2., 3.])" == repr(y)


def test_bad_shapes_raise_clear_errors():
    x = cylayers.randn(2, 3)
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        x.view(4, -1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.T.view(6)
    assert x.T.reshape(6).shape == (6,)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        x @ cylayers.randn(4, 2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(5)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.view(-1, -1)


def test_to_and_devices():
    x = cylayers.randn(3)
    assert x.to("cpu") is x and x.cpu() is x
    assert x.to(cylayers.float64).dtype == cylayers.float64
    assert x.to(dtype=cylayers.float64).dtype == cylayers.float64
    assert x.to(cylayers.zeros(1, dtype=cylayers.float64)).dtype == cylayers.float64
    with pytest.raises(ValueError, match="CPU only"):
        x.to("cuda")
    with pytest.raises(ValueError, match="CPU only"):
        cylayers.nn.Linear(2, 2).to("cuda:0")
