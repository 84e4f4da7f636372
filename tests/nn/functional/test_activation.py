"""Activations: PyTorch parity (values, grads, both dtypes, odd shapes), gradcheck, in-place,
softmax over every dim, extreme values, and property-based checks against numpy."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck
from helpers import assert_close, to_torch

TF = torch.nn.functional

# name -> (cylayers fn, torch fn)
ELEMENTWISE = {
    "relu": (F.relu, TF.relu),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    "selu": (F.selu, TF.selu),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    "celu": (lambda x: F.celu(x, 1.3), lambda x: TF.celu(x, 1.3)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1)),
    "leaky_relu_negative_slope": (lambda x: F.leaky_relu(x, -0.3),
                                  lambda x: TF.leaky_relu(x, -0.3)),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu),
    "softplus": (F.softplus, TF.softplus),
    "softplus_beta": (lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.2), lambda x: TF.hardtanh(x, -0.5, 1.2)),
    "relu6": (F.relu6, TF.relu6),
    "mish": (F.mish, TF.mish),
    "hardswish": (F.hardswish, TF.hardswish),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
}
SHAPES = [(7,), (3, 5), (2, 3, 5, 7), (1, 1), (0, 4), (40000,)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_parity(name, shape, dtype):
    ours_fn, torch_fn = ELEMENTWISE[name]
    arr = (np.random.default_rng(0).standard_normal(shape) * 4).astype(dtype)
    xo, xt = cylayers.tensor(arr, requires_grad=True), to_torch(arr, requires_grad=True)
    yo, yt = ours_fn(xo), torch_fn(xt)
    assert_close(yo, yt, dtype)
    g = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    yo.backward(cylayers.tensor(g))
    yt.backward(torch.from_numpy(g))
    assert_close(xo.grad, xt.grad, dtype)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_gradcheck(name):
    ours_fn, _ = ELEMENTWISE[name]
    arr = np.random.default_rng(2).standard_normal((3, 4)) * 2
    arr = np.where(np.abs(arr) < 0.05, 0.2, arr)  # keep away from the kinks at 0
    for kink in (-3.0, -0.5, 1.2, 3.0, 6.0):
        arr = np.where(np.abs(arr - kink) < 0.05, kink + 0.2, arr)
    assert gradcheck(ours_fn, [cylayers.tensor(arr, requires_grad=True)])


def test_exact_values():
    x = cylayers.tensor([-2.0, 0.0, 3.0], dtype=cylayers.float64)
    assert F.relu(x).tolist() == [0.0, 0.0, 3.0]
    assert F.sigmoid(x).tolist()[1] == 0.5
    s = F.selu(x).tolist()
    assert s[2] == pytest.approx(1.0507009873554805 * 3)
    assert s[0] == pytest.approx(1.0507009873554805 * 1.6732632423543772 * (math.exp(-2) - 1))
    assert F.prelu(x, cylayers.tensor([0.25], dtype=cylayers.float64)).tolist() == [-0.5, 0, 3]
    assert F.softmax(cylayers.tensor([[0.0, 0.0]]), dim=1).tolist() == [[0.5, 0.5]]


def test_extremes_stay_finite_and_nan_propagates():
    big = cylayers.tensor([-1e4, -100.0, 0.0, 100.0, 1e4])
    for fn in (F.sigmoid, F.tanh, F.softplus, F.silu, F.selu, F.gelu, F.mish):
        out = fn(big).numpy()
        assert np.all(np.isfinite(out)), fn
    logits = cylayers.tensor([[1e4, 0.0, -1e4], [-1e30, 1e30, 0.0]])
    assert np.all(np.isfinite(F.softmax(logits, dim=1).numpy()))
    assert np.all(np.isfinite(F.log_softmax(logits, dim=1).numpy()[:, :2][0]))
    assert_close(F.log_softmax(logits, dim=1), TF.log_softmax(to_torch(logits), dim=1))
    nan = cylayers.tensor([float("nan"), 1.0])
    for fn, tfn in ((F.relu, TF.relu), (F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh),
                    (F.selu, TF.selu), (F.gelu, TF.gelu)):
        assert_close(fn(nan), tfn(to_torch(nan)))
    inf = cylayers.tensor([float("inf"), -float("inf")])
    for fn, tfn in ((F.relu, TF.relu), (F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh),
                    (F.elu, TF.elu)):
        assert_close(fn(inf), tfn(to_torch(inf)))
    assert_close(F.softmax(nan.view(1, 2), dim=1), TF.softmax(to_torch(nan).view(1, 2), dim=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -3])
@pytest.mark.parametrize("kind", ["softmax", "log_softmax", "softmin"])
def test_softmax_family_every_dim(kind, dim, dtype):
    arr = (np.random.default_rng(0).standard_normal((3, 5, 1, 7)) * 5).astype(dtype)
    xo, xt = cylayers.tensor(arr, requires_grad=True), to_torch(arr, requires_grad=True)
    yo, yt = getattr(F, kind)(xo, dim=dim), getattr(TF, kind)(xt, dim=dim)
    assert_close(yo, yt, dtype)
    g = np.random.default_rng(1).standard_normal(arr.shape).astype(dtype)
    yo.backward(cylayers.tensor(g))
    yt.backward(torch.from_numpy(g))
    assert_close(xo.grad, xt.grad, dtype)


@pytest.mark.parametrize("kind", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_gradcheck(kind, dim):
    x = cylayers.randn(3, 4, dtype=cylayers.float64, requires_grad=True)
    assert gradcheck(lambda t: getattr(F, kind)(t, dim=dim), [x])


def test_softmax_large_parallel_and_dim_required():
    xo, xt = (cylayers.randn(512, 1000), None)
    xt = to_torch(xo)
    assert_close(F.softmax(xo, 1), TF.softmax(xt, 1))
    assert_close(F.log_softmax(xo, 0), TF.log_softmax(xt, 0))
    with pytest.raises(ValueError, match="dim must be given"):
        F.softmax(xo)
    with pytest.raises(ValueError, match="dim must be given"):
        nn.Softmax()
    assert xo.softmax(1).shape == (512, 1000)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,num_parameters", [((4, 3, 5, 5), 3), ((4, 3, 5, 5), 1),
                                                  ((6, 5), 5), ((7,), 1), ((2, 3, 7), 3)])
def test_prelu_parity(shape, num_parameters, dtype):
    arr = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    w = np.random.default_rng(1).uniform(0, 0.5, num_parameters).astype(dtype)
    xo, xt = cylayers.tensor(arr, requires_grad=True), to_torch(arr, requires_grad=True)
    wo, wt = cylayers.tensor(w, requires_grad=True), to_torch(w, requires_grad=True)
    yo, yt = F.prelu(xo, wo), TF.prelu(xt, wt)
    assert_close(yo, yt, dtype)
    yo.sum().backward()
    yt.sum().backward()
    assert_close(xo.grad, xt.grad, dtype)
    assert_close(wo.grad, wt.grad, dtype)


def test_prelu_module_and_errors():
    m = nn.PReLU(3)
    assert repr(m) == repr(torch.nn.PReLU(3))
    assert m.weight.tolist() == pytest.approx([0.25] * 3)
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel"):
        m(cylayers.randn(2, 4, 5))
    assert gradcheck(F.prelu, [cylayers.randn(2, 3, 4, dtype=cylayers.float64,
                                              requires_grad=True),
                               cylayers.tensor([0.1, 0.2, 0.3], dtype=cylayers.float64,
                                               requires_grad=True)])


@pytest.mark.parametrize("name,module", [("relu", nn.ReLU), ("selu", nn.SELU),
                                         ("silu", nn.SiLU), ("mish", nn.Mish),
                                         ("hardswish", nn.Hardswish),
                                         ("hardsigmoid", nn.Hardsigmoid)])
def test_inplace_modules_write_into_input_and_stay_differentiable(name, module):
    base = cylayers.randn(4, 5, requires_grad=True)
    ref_in = base.detach().clone()
    x = base * 1.0
    y = module(inplace=True)(x)
    assert y is x
    expected = ELEMENTWISE[name][0](ref_in)
    assert_close(y, expected.data)
    y.sum().backward()
    tb = to_torch(ref_in, requires_grad=True)
    ELEMENTWISE[name][1](tb * 1.0).sum().backward()
    assert_close(base.grad, tb.grad)


@pytest.mark.parametrize("fn", [lambda t: t.relu_(), lambda t: t.sigmoid_(), lambda t: t.tanh_(),
                                lambda t: F.elu(t, inplace=True),
                                lambda t: F.leaky_relu(t, 0.2, inplace=True),
                                lambda t: F.hardtanh(t, inplace=True)])
def test_inplace_tensor_ops_backward_from_output(fn):
    base = cylayers.randn(3, 4, dtype=cylayers.float64, requires_grad=True)
    assert gradcheck(lambda b: fn(b * 1.0), [base])


def test_inplace_on_leaf_requiring_grad_raises():
    w = cylayers.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.relu(w, inplace=True)


def test_inplace_on_non_contiguous_view_without_grad():
    x = cylayers.randn(4, 6)
    ref = np.maximum(x.numpy(), 0)
    F.relu(x.T, inplace=True)  # writes through the transposed view
    np.testing.assert_array_equal(x.numpy(), ref)


def test_modules_repr_match_torch():
    pairs = [(nn.ReLU(), torch.nn.ReLU()), (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
             (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()),
             (nn.SELU(), torch.nn.SELU()), (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
             (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
             (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (nn.ELU(), torch.nn.ELU()),
             (nn.GELU(), torch.nn.GELU()), (nn.Softplus(), torch.nn.Softplus()),
             (nn.Hardtanh(), torch.nn.Hardtanh()), (nn.ReLU6(), torch.nn.ReLU6()),
             (nn.SiLU(), torch.nn.SiLU()), (nn.Mish(), torch.nn.Mish()),
             (nn.Hardswish(inplace=True), torch.nn.Hardswish(inplace=True)),
             (nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
             (nn.Softmin(dim=0), torch.nn.Softmin(dim=0))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_integer_input_is_a_clear_error():
    with pytest.raises(TypeError, match="expected a float32 or float64 tensor"):
        F.gelu(cylayers.tensor([1, 2]))


def test_integer_input_as_pytorch_where_it_accepts_it():
    x = cylayers.tensor([1, -2])
    assert F.relu(x).dtype == cylayers.int64 and F.relu(x).tolist() == [1, 0]
    assert F.sigmoid(x).dtype == cylayers.float32 and F.tanh(x).dtype == cylayers.float32


def test_thread_count_does_not_change_results():
    x = cylayers.randn(300, 1000)
    outs = []
    for n in (1, 2):
        cylayers.set_num_threads(n)
        outs.append([F.tanh(x).numpy().copy(), F.softmax(x, 1).numpy().copy(),
                     F.selu(x).numpy().copy(), F.softmax(x.view(300, 10, 100), 1).numpy().copy()])
    cylayers.set_num_threads(2)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_kernels_refuse_sizes_that_do_not_fit(dtype):
    from cylayers._kernels import activation as kernels
    x, short = np.zeros(12, dtype), np.zeros(10, dtype)
    scratch = np.zeros((2, 8))
    with pytest.raises(ValueError, match="not rows of 5"):
        kernels.softmax_rows_forward(x, x.copy(), 5, False, 1)
    with pytest.raises(ValueError, match="out 10"):
        kernels.softmax_rows_forward(x, short, 4, False, 1)
    with pytest.raises(ValueError, match="grad_in 10"):
        kernels.softmax_rows_backward(x, x, short, 4, True, 1)
    with pytest.raises(ValueError, match=r"not \(2, 3, 4\)"):
        kernels.softmax_forward(x, x.copy(), scratch, 2, 3, 4, False, 2)  # 24 elements
    with pytest.raises(ValueError, match="scratch for 3 threads"):
        kernels.softmax_backward(x, x, x.copy(), scratch, 1, 3, 4, False, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_serial_and_threaded_kernel_loops_agree(monkeypatch, dtype):
    """On one thread the kernels run a plain loop (an OpenMP region costs ~0.7 us even when
    told not to fork), on more a prange: a small input forced through both agrees bit for bit,
    values and input gradients; LayerNorm's weight and bias gradients up to summation order."""
    from cylayers import _kernel_call
    from cylayers._ops import activation as activation_ops
    from cylayers.nn.functional import normalization
    arr = (np.random.default_rng(3).standard_normal((7, 300)) * 3).astype(dtype)
    weight = np.random.default_rng(4).standard_normal(300).astype(dtype)
    fns = [fn for fn, _ in ELEMENTWISE.values()] + [
        lambda x: F.softmax(x, dim=1), lambda x: F.log_softmax(x, dim=1),
        lambda x: F.softmax(x.view(7, 3, 100), dim=2).view(7, 300)]
    results, param_grads = [], []
    for n in (1, 2):
        for module in (_kernel_call, activation_ops, normalization):
            monkeypatch.setattr(module, "threads_for", lambda *args, n=n: n)
        run = []
        for fn in fns:
            x = cylayers.tensor(arr, requires_grad=True)
            y = fn(x)
            y.backward(cylayers.tensor(arr[::-1].copy()))
            run += [y.detach().numpy().copy(), x.grad.numpy().copy()]
        x = cylayers.tensor(arr, requires_grad=True)
        w = cylayers.tensor(weight, requires_grad=True)
        b = cylayers.tensor(weight[::-1].copy(), requires_grad=True)
        y = F.layer_norm(x, (300,), w, b)
        y.backward(cylayers.tensor(arr[::-1].copy()))
        run += [y.detach().numpy().copy(), x.grad.numpy()]
        results.append(run)
        param_grads.append([w.grad.numpy(), b.grad.numpy()])
    assert len(results[0]) == 2 * len(fns) + 2
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    # Each thread sums its own rows' share of the weight gradients (in float64): only the
    # order of that sum depends on the thread count.
    for a, b in zip(*param_grads):
        np.testing.assert_allclose(a, b, rtol=1e-13 if dtype == np.float64 else 0)


# ---------------------------------------------------------------- property-based
_REFERENCE = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "softplus": lambda x: np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20)))),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "hardtanh": lambda x: np.clip(x, -1, 1),
    "relu6": lambda x: np.clip(x, 0, 6),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))) if x.size else x,
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(np.minimum(x, 20))) + np.maximum(x - 20, 0)),
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hardsigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
}


def _arrays(dtype):
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6),
                      elements=st.floats(-30, 30, width=32))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       name=st.sampled_from(sorted(_REFERENCE)))
def test_property_elementwise_any_shape_and_stride(data, dtype, name):
    arr = data.draw(_arrays(dtype))
    if arr.ndim > 1 and data.draw(st.booleans()):
        arr = arr.T  # non-contiguous view
    ours = getattr(F, name)(cylayers.from_numpy(arr)).numpy()
    assert ours.shape == arr.shape
    with np.errstate(over="ignore"):
        ref = _REFERENCE[name](arr.astype(np.float64))
    np.testing.assert_allclose(ours, ref, rtol=2e-6 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-12)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_property_softmax_any_shape_dim_and_stride(data, dtype):
    arr = data.draw(_arrays(dtype))
    if arr.ndim > 1 and data.draw(st.booleans()):
        arr = np.swapaxes(arr, 0, -1)
    dim = data.draw(st.integers(-arr.ndim, arr.ndim - 1))
    ours = F.log_softmax(cylayers.from_numpy(arr), dim=dim).numpy()
    a = arr.astype(np.float64)
    m = a.max(axis=dim, keepdims=True) if a.size else a
    ref = a - m - np.log(np.exp(a - m).sum(axis=dim, keepdims=True)) if a.size else a
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 if dtype == np.float32 else 1e-12)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_property_prelu_any_shape_and_stride(data, dtype):
    arr = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=2, max_dims=4, min_side=0,
                                                       max_side=6),
                               elements=st.floats(-30, 30, width=32)))
    if data.draw(st.booleans()):
        arr = np.swapaxes(arr, 0, -1)
    channels = arr.shape[1]
    per_channel = data.draw(st.booleans()) and channels > 0
    w = np.linspace(0.1, 0.5, channels if per_channel else 1).astype(dtype)
    x = cylayers.tensor(arr, requires_grad=True)
    wt = cylayers.tensor(w, requires_grad=True)
    y = F.prelu(x, wt)
    shape = [1] * arr.ndim
    shape[1] = w.size
    ref = np.where(arr > 0, arr, w.reshape(shape) * arr)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(arr > 0, 1, np.broadcast_to(
        w.reshape(shape), arr.shape)), rtol=1e-6)
    axes = tuple(i for i in range(arr.ndim) if not (per_channel and i == 1))
    gw = np.where(arr > 0, 0, arr).astype(np.float64).sum(axis=axes).reshape(-1)
    np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid"])
def test_hard_activations_at_their_corners_match_torch_bit_for_bit(name, dtype):
    # The corners -3 and 3, signed zeros, NaN and infinities: PyTorch's values and one-sided
    # gradients exactly (float64 hardsigmoid's slope: PyTorch uses 1/6 rounded to float32).
    arr = np.array([-4.0, -3.0, -1.5, -0.0, 0.0, 2.0, 3.0, 4.0, np.nan, np.inf, -np.inf], dtype)
    x, tx = cylayers.tensor(arr, requires_grad=True), to_torch(arr, requires_grad=True)
    y, ty = getattr(F, name)(x), getattr(TF, name)(tx)
    np.testing.assert_array_equal(np.signbit(y.detach().numpy()), np.signbit(ty.detach().numpy()))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    y.backward(cylayers.ones(arr.shape, dtype=y.dtype))
    ty.backward(torch.ones(arr.shape, dtype=ty.dtype))
    want = tx.grad.numpy().copy()
    if name == "hardswish":
        # PyTorch's Hardswish gradient at NaN is NaN in its vectorized loop and 1 in its scalar
        # loop for a tail shorter than a vector (where this NaN falls); cylayers gives NaN
        # everywhere (tests/ops/test_pytorch_conventions.py checks the vectorized case).
        want[np.isnan(arr)] = np.nan
    assert_close(x.grad, want, dtype, rtol=1e-7, atol=0)


def test_every_elementwise_function_has_its_generated_kernel_pair():
    from cylayers._kernels import activation as kernels
    from cylayers._ops.activation import ElementwiseFn
    ops = ElementwiseFn.__subclasses__()
    assert len(ops) == 12
    for op in ops:
        assert callable(getattr(kernels, op.kernel + "_forward")), op
        assert callable(getattr(kernels, op.kernel + "_backward")), op


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_kernels_refuse_arrays_of_different_lengths(dtype):
    from cylayers._kernels import activation as kernels
    x, short = np.zeros(8, dtype), np.zeros(5, dtype)
    with pytest.raises(ValueError, match="x has 8 elements but out has 5"):
        kernels.relu_forward(x, short, 1)
    with pytest.raises(ValueError, match="grad has 8 elements but saved has 5"):
        kernels.tanh_backward(x, short, np.zeros(8, dtype), 1)
    with pytest.raises(ValueError, match="and grad_in 5"):
        kernels.elu_backward(x, x, short, 1.0, 1.0, 1.0, True, 1)
