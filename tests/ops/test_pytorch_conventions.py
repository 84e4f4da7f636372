"""Where PyTorch's documented behaviour differs from numpy's, swept against PyTorch: integer
bitwise ops, remainder, integer powers, gradient conventions at ties, zeros and NaN, and
in-place edits that keep nothing a gradient needs."""
import itertools

import numpy as np
import pytest
import torch

import cylayers
import cylayers.nn.functional as F

TF = torch.nn.functional
INT_DTYPES = ["uint8", "int8", "int16", "int32", "int64"]


def _pair(values, dtype, grad=False):
    arr = np.array(values).astype(dtype)
    ours = cylayers.tensor(arr, requires_grad=grad)
    theirs = torch.from_numpy(arr.copy())
    return ours, theirs.requires_grad_(grad) if grad else theirs


def _same(got, want):
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (got.dtype,
                                                                             want.dtype)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())


BITWISE = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
           "lshift": lambda a, b: a << b, "rshift": lambda a, b: a >> b}


@pytest.mark.parametrize("op", list(BITWISE))
@pytest.mark.parametrize("da,db", list(itertools.product(INT_DTYPES + ["bool"], repeat=2)))
def test_bitwise_ops_of_integer_and_bool_tensors(op, da, db):
    if op in ("lshift", "rshift") and "bool" in (da, db):
        return  # PyTorch has no shifts of bools
    a_o, a_t = _pair([5, 3, 1, 6], da)
    b_o, b_t = _pair([3, 6, 1, 2], db)
    _same(BITWISE[op](a_o, b_o), BITWISE[op](a_t, b_t))
    _same(BITWISE[op](a_o, 2 if da != "bool" else True), BITWISE[op](a_t, 2 if da != "bool"
                                                                      else True))
    if op in ("and", "or", "xor"):
        _same(BITWISE[op](3, a_o), BITWISE[op](3, a_t))


@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool"])
def test_bitwise_not_and_functions(dtype):
    a_o, a_t = _pair([5, 3, 0, 6], dtype)
    _same(~a_o, ~a_t)
    _same(cylayers.bitwise_not(a_o), torch.bitwise_not(a_t))
    _same(cylayers.bitwise_and(a_o, a_o), torch.bitwise_and(a_t, a_t))


def test_bitwise_ops_refuse_floats():
    for fn in (lambda x: x & x, lambda x: x | 1, lambda x: ~x, lambda x: x << 1):
        with pytest.raises(RuntimeError, match="not implemented for 'Float'"):
            fn(cylayers.ones(2))


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("fn", ["remainder", "fmod"])
def test_remainder_and_fmod_keep_integer_dtypes(dtype, fn):
    a_o, a_t = _pair([7, -7, 7, -7, 5], dtype)
    b_o, b_t = _pair([3, 3, -3, -3, 5], dtype)
    _same(getattr(cylayers, fn)(a_o, b_o), getattr(torch, fn)(a_t, b_t))
    _same(getattr(cylayers, fn)(a_o, 3), getattr(torch, fn)(a_t, 3))
    if fn == "remainder":
        _same(a_o % b_o, a_t % b_t)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_powers(dtype):
    a_o, a_t = _pair([2, 1, -1, -1, 3, 0, 5], dtype)
    b_o, b_t = _pair([-1, -2, -3, -2, 2, 3, 0], dtype)
    _same(a_o ** b_o, a_t ** b_t)
    _same(a_o ** 3, a_t ** 3)
    with pytest.raises(RuntimeError, match="negative integer powers"):
        a_o ** -1
    with pytest.raises(RuntimeError, match="negative integer powers"):
        a_t ** -1


def _grads(fn, *values, dtype=np.float32):
    ours = [cylayers.tensor(np.array(v, dtype=dtype), requires_grad=True) for v in values]
    theirs = [torch.tensor(np.array(v, dtype=dtype), requires_grad=True) for v in values]
    fn(cylayers, F, *ours).sum().backward()
    fn(torch, TF, *theirs).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


NAN = float("nan")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_conventions(dtype):
    ties = ([1.0, 2.0, 3.0, NAN, 1.0], [1.0, 0.0, 3.0, 1.0, NAN])
    _grads(lambda lib, f, a, b: lib.maximum(a, b), *ties, dtype=dtype)
    _grads(lambda lib, f, a, b: lib.minimum(a, b), *ties, dtype=dtype)
    _grads(lambda lib, f, a, b: a.maximum(b) * a.minimum(b), *ties, dtype=dtype)
    _grads(lambda lib, f, x: lib.relu(x), [NAN, 0.0, -1.0, 1.0], dtype=dtype)
    # 64 elements: PyTorch's vectorized Hardswish gradient (NaN at NaN)
    _grads(lambda lib, f, x: f.hardswish(x), [-3.0, 3.0, NAN, -4.0, 4.0, 0.5] * 11,
           dtype=dtype)
    _grads(lambda lib, f, x, y: x ** y, [0.0, 0.0, 2.0, 0.0, -2.0], [0.0, -1.0, 2.0, 2.5, 2.0],
           dtype=dtype)
    _grads(lambda lib, f, x: 0 ** x, [0.0, 1.0, -1.0], dtype=dtype)
    _grads(lambda lib, f, x: x ** 0, [0.0, 1.0, -1.0], dtype=dtype)


def test_values_of_maximum_minimum_propagate_nan():
    a_o, a_t = _pair([1.0, NAN, 3.0], np.float32)
    b_o, b_t = _pair([2.0, 1.0, NAN], np.float32)
    _same(cylayers.maximum(a_o, b_o), torch.maximum(a_t, b_t))
    _same(cylayers.minimum(a_o, b_o), torch.minimum(a_t, b_t))


@pytest.mark.parametrize("weights,targets", [([0.0, 0.0, 0.0, 1.0], [0, 1, 2]),
                                             (None, [-100, -100, -100]),
                                             ([0.0, 1.0, 1.0, 1.0], [0, -100, 0])])
def test_cross_entropy_with_nothing_counted(weights, targets):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    xo = cylayers.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    wo = None if weights is None else cylayers.tensor(weights)
    wt = None if weights is None else torch.tensor(weights)
    lo = F.cross_entropy(xo, cylayers.tensor(targets), weight=wo)
    lt = TF.cross_entropy(xt, torch.tensor(targets), weight=wt)
    lo.backward()
    lt.backward()
    np.testing.assert_array_equal(lo.detach().numpy(), lt.detach().numpy())
    np.testing.assert_array_equal(xo.grad.numpy(), xt.grad.numpy())


def _inplace_chain(lib, x):
    y = x * 1
    y.mul_(2)
    y.add_(1)
    return y ** 3


def _inplace_on_a_slice(lib, x):
    b = x * 1
    c = b[1:3]
    c.mul_(2)
    c.add_(1)
    return b ** 2


def _scale_shift(lib, x):
    y = (x - 1) / 2
    return y.mul_(3.0).add_(0.5) * x


@pytest.mark.parametrize("fn", [_inplace_chain, _inplace_on_a_slice, _scale_shift])
def test_inplace_edits_after_an_op_that_saved_nothing_of_them(fn):
    """Multiplying by a number keeps nothing of the tensor, so editing the product in place
    later is no error (PyTorch computes these)."""
    x = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    xo = cylayers.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    fn(cylayers, xo).sum().backward()
    fn(torch, xt).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_inplace_edit_of_a_saved_operand_is_still_refused():
    for lib in (cylayers, torch):
        x = lib.ones(3, requires_grad=True)
        w = lib.ones(3, requires_grad=True)
        y = x * 2
        z = y * w  # keeps y for w's gradient
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "float32"])
@pytest.mark.parametrize("start,end,steps", [(-1, 2, 7), (0, 10, 4), (5, -5, 6), (0, 1, 1)])
def test_linspace_with_integer_dtypes_converts_toward_zero(dtype, start, end, steps):
    if dtype == "uint8" and min(start, end) < 0:
        return
    _same(cylayers.linspace(start, end, steps, dtype=getattr(cylayers, dtype)),
          torch.linspace(start, end, steps, dtype=getattr(torch, dtype)))


@pytest.mark.parametrize("src,dst", [("float32", "int32"), ("int32", "float32"),
                                     ("float32", "uint8"), ("float64", "int32"),
                                     ("int64", "float64"), ("uint8", "int16")])
def test_view_as_another_dtype_reinterprets_the_bytes(src, dst):
    arr = np.array([[1.5, -2.0, 3.25, 0.0], [7.0, 8.0, -9.5, 1e-3]]).astype(src)
    ours = cylayers.tensor(arr).view(getattr(cylayers, dst))
    _same(ours, torch.from_numpy(arr.copy()).view(getattr(torch, dst)))
    base = cylayers.tensor(arr)
    view = base.view(getattr(cylayers, dst))
    base.zero_()  # the same storage
    assert not view.numpy().any()


@pytest.mark.parametrize("shape,dim", [((0, 3), 0), ((0, 3), 1), ((3, 0), 1), ((2, 0, 4), 2)])
def test_backward_of_reductions_over_empty_dimensions(shape, dim):
    for fn in (lambda x: x.cumprod(dim), lambda x: x.cumsum(dim), lambda x: x.prod(dim)):
        xo = cylayers.zeros(*shape, requires_grad=True)
        xt = torch.zeros(*shape, requires_grad=True)
        fn(xo).sum().backward()
        fn(xt).sum().backward()
        _same(xo.grad, xt.grad)


def test_prod_of_a_zero_dim_tensor():
    xo, xt = cylayers.tensor(3.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    xo.prod().backward()
    xt.prod().backward()
    _same(xo.grad, xt.grad)


def test_std_and_var_of_too_few_elements_warn_in_pytorchs_words_only():
    import warnings
    for name, call in (("std", lambda: cylayers.tensor([1.0]).std()),
                       ("var", lambda: cylayers.tensor([[1.0, 2.0]]).var(0))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = call()
        assert np.isnan(out.numpy()).all()
        messages = [(w.category, str(w.message)) for w in caught]
        assert messages == [(UserWarning, f"{name}(): degrees of freedom is <= 0. Correction "
                             "should be strictly less than the reduction factor (input numel "
                             "divided by output numel).")], messages
        assert caught[0].filename == __file__  # points at the caller, not into cylayers
