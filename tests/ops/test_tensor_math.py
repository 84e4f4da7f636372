"""Tensor math of the everyday toolkit against PyTorch: forward values, dtypes, gradients, and a
float64 finite-difference gradcheck for every differentiable op; the functions torch.f(x), the
methods x.f() and the in-place x.f_()."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers.autograd import gradcheck

RNG = np.random.default_rng(0)


def _data(kind, shape=(3, 4)):
    if kind == "any":
        return RNG.standard_normal(shape) * 2
    if kind == "pos":
        return RNG.uniform(0.2, 3.0, shape)
    if kind == "unit":
        return RNG.uniform(-0.9, 0.9, shape)
    if kind == "gt1":
        return RNG.uniform(1.2, 3.0, shape)
    if kind == "nonint":  # away from integers, where rounding ops have a gradient of zero
        return np.floor(RNG.standard_normal(shape) * 3) + RNG.uniform(0.1, 0.4, shape)
    raise ValueError(kind)


UNARY = [("sin", "any"), ("cos", "any"), ("tan", "unit"), ("asin", "unit"), ("acos", "unit"),
         ("atan", "any"), ("sinh", "any"), ("cosh", "any"), ("asinh", "any"), ("acosh", "gt1"),
         ("atanh", "unit"), ("exp", "any"), ("exp2", "any"), ("expm1", "any"), ("log", "pos"),
         ("log2", "pos"), ("log10", "pos"), ("log1p", "pos"), ("sqrt", "pos"),
         ("rsqrt", "pos"), ("abs", "any"), ("sign", "any"), ("neg", "any"),
         ("reciprocal", "pos"), ("floor", "nonint"), ("ceil", "nonint"), ("round", "nonint"),
         ("trunc", "nonint"), ("frac", "nonint"), ("sigmoid", "any"), ("tanh", "any"),
         ("erf", "any"), ("square", "any"), ("arcsin", "unit"), ("arctan", "any"),
         ("absolute", "any"), ("fix", "nonint"), ("negative", "any")]


def _pair(arr, dtype=np.float64):
    return (cylayers.tensor(arr.astype(dtype), requires_grad=True),
            torch.tensor(arr.astype(dtype), requires_grad=True))


def _close(ours, theirs, rtol=1e-6, atol=1e-9):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _close(a, b, rtol, atol)
        return
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cylayers.Tensor), type(ours)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                                   atol=atol, equal_nan=True)
    else:
        assert ours == theirs


@pytest.mark.parametrize("name,kind", UNARY, ids=[u[0] for u in UNARY])
def test_unary_function_method_and_gradients(name, kind):
    arr = _data(kind)
    x, tx = _pair(arr)
    _close(getattr(cylayers, name)(x), getattr(torch, name)(tx))
    y, ty = getattr(x, name)(), getattr(tx, name)()
    _close(y, ty)
    w = RNG.standard_normal(arr.shape)
    (y * cylayers.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    _close(x.grad, tx.grad, rtol=1e-6, atol=1e-12)
    assert gradcheck(lambda t: getattr(t, name)(), [cylayers.tensor(arr, requires_grad=True)])


@pytest.mark.parametrize("name,kind", [u for u in UNARY if hasattr(torch.Tensor, u[0] + "_")],
                         ids=[u[0] for u in UNARY if hasattr(torch.Tensor, u[0] + "_")])
def test_unary_in_place_forms(name, kind):
    arr = _data(kind)
    x, tx = _pair(arr)
    h = x * 1.5
    assert getattr(h, name + "_")() is h
    th = getattr(tx * 1.5, name)()  # out of place: PyTorch lacks some in-place derivatives
    _close(h, th)
    (h * h).sum().backward()
    (th * th).sum().backward()
    _close(x.grad, tx.grad, atol=1e-12)


# PyTorch has no bool kernel for these (NotImplementedError), so there is no answer to match.
_NO_BOOL_IN_TORCH = {"abs", "floor", "round", "neg"}


@pytest.mark.parametrize("name,dtype", [
    (n, d) for n in ["sin", "exp", "sqrt", "abs", "floor", "round", "sign", "square",
                     "reciprocal", "log1p", "erf", "neg"]
    for d in ["int64", "float32", "bool"] if not (d == "bool" and n in _NO_BOOL_IN_TORCH)])
def test_result_dtypes_follow_pytorch(name, dtype):
    arr = np.array([0, 1, 3, 2]).astype(dtype)
    theirs = getattr(torch, name)(torch.tensor(arr))
    _close(getattr(cylayers, name)(cylayers.tensor(arr)), theirs, rtol=1e-6)


BINARY = [("atan2", "any", "any"), ("fmod", "any", "pos"), ("remainder", "any", "pos"),
          ("logaddexp", "any", "any"), ("pow", "pos", "any"), ("add", "any", "any"),
          ("mul", "any", "any"), ("div", "any", "pos")]


@pytest.mark.parametrize("name,ka,kb", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("b_shape", [(3, 4), (4,), (3, 1)])
def test_binary_with_broadcasting_and_gradients(name, ka, kb, b_shape):
    a_arr, b_arr = _data(ka), _data(kb, b_shape)
    a, ta = _pair(a_arr)
    b, tb = _pair(b_arr)
    y, ty = getattr(cylayers, name)(a, b), getattr(torch, name)(ta, tb)
    _close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    _close(a.grad, ta.grad, atol=1e-10)
    _close(b.grad, tb.grad, atol=1e-10)
    assert gradcheck(lambda p, q: getattr(p, name)(q), [
        cylayers.tensor(a_arr, requires_grad=True), cylayers.tensor(b_arr, requires_grad=True)])


@pytest.mark.parametrize("name", ["atan2", "fmod", "remainder", "pow"])
def test_binary_in_place_and_scalars(name):
    arr = _data("pos")
    x, tx = _pair(arr)
    h, th = x * 1.0, tx * 1.0
    other = 1.7 if name != "atan2" else cylayers.tensor(1.7, dtype=cylayers.float64)
    getattr(h, name + "_")(other)
    getattr(th, name + "_")(1.7 if name != "atan2" else torch.tensor(1.7, dtype=torch.float64))
    _close(h, th)
    h.sum().backward()
    th.sum().backward()
    _close(x.grad, tx.grad, atol=1e-12)
    if name != "atan2":  # PyTorch's atan2 takes tensors only
        _close(getattr(x, name)(2), getattr(tx, name)(2))


def test_pow_with_scalar_base_and_operators():
    x, tx = _pair(_data("any"))
    _close(cylayers.pow(2, x), torch.pow(2, tx))
    _close(2 ** x, 2 ** tx)
    _close(x ** 3, tx ** 3)
    _close(x % 1.5, tx % 1.5)
    _close(5.0 % (x.abs() + 1), 5.0 % (tx.abs() + 1))


def test_lerp_and_clamp():
    a, ta = _pair(_data("any"))
    b, tb = _pair(_data("any"))
    w, tw = _pair(RNG.uniform(0, 1, (3, 4)))
    y, ty = cylayers.lerp(a, b, w), torch.lerp(ta, tb, tw)
    _close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    for ours, theirs in ((a, ta), (b, tb), (w, tw)):
        _close(ours.grad, theirs.grad)
    _close(a.lerp(b, 0.25), ta.lerp(tb, 0.25))
    _close(cylayers.clamp(a, -0.5, 0.5), torch.clamp(ta, -0.5, 0.5))
    _close(a.clip(min=0.1), ta.clip(min=0.1))


def test_comparisons_logical_and_special_values():
    arr = np.array([[1.0, np.nan, -np.inf], [np.inf, 0.0, -2.0]])
    x, tx = cylayers.tensor(arr), torch.tensor(arr)
    y, ty = cylayers.tensor(arr[::-1].copy()), torch.tensor(arr[::-1].copy())
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal", "not_equal",
                 "logical_and", "logical_or", "logical_xor"):
        _close(getattr(cylayers, name)(x, y), getattr(torch, name)(tx, ty))
        _close(getattr(x, name)(y), getattr(tx, name)(ty))
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_not"):
        _close(getattr(cylayers, name)(x), getattr(torch, name)(tx))
    _close(x == 1.0, tx == 1.0)
    b, tb = cylayers.tensor([True, False, True]), torch.tensor([True, False, True])
    c, tc = cylayers.tensor([True, True, False]), torch.tensor([True, True, False])
    _close(b ^ c, tb ^ tc)
    _close(b & c, tb & tc)
    _close(b | c, tb | tc)
    _close(~b, ~tb)


@pytest.mark.parametrize("kw", [{}, {"nan": 1.5}, {"posinf": 9.0, "neginf": -9.0}])
def test_nan_to_num_values_and_gradient(kw):
    arr = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    x, tx = _pair(arr)
    y, ty = cylayers.nan_to_num(x, **kw), torch.nan_to_num(tx, **kw)
    _close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    _close(x.grad, tx.grad)
    h, th = x.detach().clone(), tx.detach().clone()
    h.nan_to_num_(**kw)
    th.nan_to_num_(**kw)
    _close(h, th)


def test_format_of_zero_dim_tensors_like_pytorch():
    w, tw = cylayers.tensor(1.23456), torch.tensor(1.23456)
    for spec in ("", ".2f", "+.2f", "8.3e", "g"):
        assert format(w, spec) == format(tw, spec)
    assert f"{w:+.2f}" == "+1.23" and "{:.1f}".format(cylayers.tensor(2.0)) == "2.0"
    one = cylayers.tensor([1.5])
    with pytest.raises(TypeError, match="unsupported format string"):
        format(one, ".2f")
    with pytest.raises(TypeError, match="unsupported format string"):
        format(torch.tensor([1.5]), ".2f")
    assert format(one, "") == str(one)


# ---------------------------------------------------------------- reductions
REDUCTIONS = [
    ("prod", (), {}), ("prod", (1,), {}), ("prod", (0,), {"keepdim": True}),
    ("logsumexp", (1,), {}), ("logsumexp", ((0, 1),), {"keepdim": True}),
    ("amax", (), {}), ("amax", (1,), {}), ("amin", ((0, 1),), {}),
    ("amin", (0,), {"keepdim": True}), ("norm", (), {}), ("norm", (1,), {}), ("norm", (3, 0), {}),
    ("norm", (1, 1), {"keepdim": True}),
    ("norm", (float("inf"), 1), {}), ("norm", ("fro",), {}), ("cumsum", (1,), {}),
    ("cumsum", (0,), {}), ("median", (), {}), ("sum", (1,), {}), ("mean", ((0, 1),), {}),
]


@pytest.mark.parametrize("name,args,kw", REDUCTIONS,
                         ids=[f"{r[0]}{r[1]}{r[2]}" for r in REDUCTIONS])
def test_reductions_match_pytorch_with_gradients(name, args, kw):
    arr = _data("any")
    x, tx = _pair(arr)
    y, ty = getattr(x, name)(*args, **kw), getattr(tx, name)(*args, **kw)
    _close(y, ty)
    w = RNG.standard_normal(tuple(ty.shape))
    (y * cylayers.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    _close(x.grad, tx.grad, atol=1e-10)
    assert gradcheck(lambda t: getattr(t, name)(*args, **kw),
                     [cylayers.tensor(arr, requires_grad=True)])


def test_prod_gradient_with_zeros_is_exact():
    arr = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    for dim in (None, 0, 1):
        x, tx = _pair(arr)
        (x.prod() if dim is None else x.prod(dim)).sum().backward()
        (tx.prod() if dim is None else tx.prod(dim)).sum().backward()
        _close(x.grad, tx.grad)
    _close(cylayers.tensor([2, 3, 4]).prod(), torch.tensor([2, 3, 4]).prod())


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any_with_dims(name):
    arr = np.array([[True, False, True], [True, True, True]])
    x, tx = cylayers.tensor(arr), torch.tensor(arr)
    _close(getattr(x, name)(), getattr(tx, name)())
    _close(getattr(x, name)(1), getattr(tx, name)(1))
    _close(getattr(cylayers, name)(x, 0, keepdim=True), getattr(torch, name)(tx, 0, keepdim=True))


def test_median_mode_sort_topk_values_indices_and_gradients():
    # no ties: sorting is not differentiable at a tie, so gradcheck would be meaningless there
    arr = np.array([[1.0, 3.0, 3.5, 2.0, 2.5, 5.0], [4.0, 4.5, 1.0, 0.5, 7.0, 6.0]])
    for name, args, kw in [("median", (1,), {}), ("sort", (1,), {}),
                           ("sort", (1,), {"descending": True}), ("topk", (3,), {}),
                           ("topk", (2,), {"largest": False}), ("kthvalue", (2, 1), {}),
                           ("median", (0,), {"keepdim": True})]:
        x, tx = _pair(arr)
        ours, theirs = getattr(x, name)(*args, **kw), getattr(tx, name)(*args, **kw)
        _close(ours.values, theirs.values)
        _close(ours.indices, theirs.indices)
        values, _ = ours  # unpacks like PyTorch's named tuples
        values.sum().backward()
        theirs.values.sum().backward()
        _close(x.grad, tx.grad)
        assert gradcheck(lambda t: getattr(t, name)(*args, **kw).values,
                         [cylayers.tensor(arr, requires_grad=True)])
    ints = np.array([[3, 1, 1, 3, 2], [5, 5, 4, 4, 9]])
    ours, theirs = cylayers.tensor(ints).mode(1), torch.tensor(ints).mode(1)
    _close(ours.values, theirs.values)
    _close(ours.indices, theirs.indices)
    _close(cylayers.argsort(cylayers.tensor(arr), 1), torch.argsort(torch.tensor(arr), 1))


def test_sort_handles_nan_and_ties_like_pytorch():
    arr = np.array([2.0, np.nan, 1.0, 2.0, -np.inf])
    for descending in (False, True):
        ours = cylayers.sort(cylayers.tensor(arr), descending=descending, stable=True)
        theirs = torch.sort(torch.tensor(arr), descending=descending, stable=True)
        _close(ours.values, theirs.values)
        _close(ours.indices, theirs.indices)
    _close(cylayers.tensor([1.0, np.nan, 2.0]).median(), torch.tensor([1.0, np.nan, 2.0]).median())


# ---------------------------------------------------------------- shape and indexing
def test_repeat_chunk_split_and_their_gradients():
    arr = _data("any", (2, 3))
    x, tx = _pair(arr)
    y, ty = x.repeat(2, 1, 3), tx.repeat(2, 1, 3)
    _close(y, ty)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    _close(x.grad, tx.grad)
    for args in [(2,), ([1, 2], 1), (1, 1)]:
        _close(cylayers.split(x, *args), torch.split(tx, *args))
    for chunks, dim in [(2, 1), (3, 1), (5, 0), (1, 0)]:
        _close(x.chunk(chunks, dim), tx.chunk(chunks, dim))
    pieces = x.split(1, 1)
    assert all(p._base is not None for p in pieces)  # views, as in PyTorch
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum"):
        x.split([1, 1], 1)


def test_masked_fill_where_gather_index_select():
    arr = _data("any")
    x, tx = _pair(arr)
    mask = arr > 0.5
    y, ty = x.masked_fill(cylayers.tensor(mask), -1.0), tx.masked_fill(torch.tensor(mask), -1.0)
    _close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    _close(x.grad, tx.grad)
    h, th = x * 1, tx * 1
    h.masked_fill_(cylayers.tensor(mask), 0.0)
    th.masked_fill_(torch.tensor(mask), 0.0)
    _close(h, th)

    x, tx = _pair(arr)
    idx = np.array([[0, 3, 3, 1], [2, 2, 0, 0], [1, 1, 1, 1]])
    y, ty = x.gather(1, cylayers.tensor(idx)), tx.gather(1, torch.tensor(idx))
    _close(y, ty)
    (y * 2).sum().backward()
    (ty * 2).sum().backward()
    _close(x.grad, tx.grad)
    assert gradcheck(lambda t: t.gather(1, cylayers.tensor(idx)),
                     [cylayers.tensor(arr, requires_grad=True)])

    x, tx = _pair(arr)
    sel = np.array([2, 0, 2])
    y = cylayers.index_select(x, 1, cylayers.tensor(sel))
    ty = torch.index_select(tx, 1, torch.tensor(sel))
    _close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    _close(x.grad, tx.grad)

    x, tx = _pair(arr)
    other, tother = _pair(_data("any"))
    y = cylayers.where(x > 0, x, other)
    ty = torch.where(tx > 0, tx, tother)
    _close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    _close(x.grad, tx.grad)
    _close(other.grad, tother.grad)
    _close(cylayers.where(x > 0, x, 0.0), torch.where(tx > 0, tx, 0.0))
    _close(cylayers.where(x > 0), torch.where(tx > 0))


def test_bmm_einsum_tril_triu():
    a_arr, b_arr = _data("any", (2, 3, 4)), _data("any", (2, 4, 5))
    a, ta = _pair(a_arr)
    b, tb = _pair(b_arr)
    y, ty = cylayers.bmm(a, b), torch.bmm(ta, tb)
    _close(y, ty)
    for eq, ops in [("bij,bjk->bik", (a_arr, b_arr)), ("bij->j", (a_arr,)),
                    ("bij,bjk", (a_arr, b_arr)), ("ij,ij->", (a_arr[0], a_arr[1])),
                    ("i,j->ij", (a_arr[0, 0], b_arr[0, 0])), ("bij->bji", (a_arr,))]:
        ours = [cylayers.tensor(o, requires_grad=True) for o in ops]
        theirs = [torch.tensor(o, requires_grad=True) for o in ops]
        y, ty = cylayers.einsum(eq, *ours), torch.einsum(eq, *theirs)
        _close(y, ty)
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        for o, t in zip(ours, theirs):
            _close(o.grad, t.grad, atol=1e-10)
        assert gradcheck(lambda *t: cylayers.einsum(eq, *t),
                         [cylayers.tensor(o, requires_grad=True) for o in ops])
    sq, tsq = _pair(_data("any", (4, 4)))
    for k in (-1, 0, 2):
        _close(sq.tril(k), tsq.tril(k))
        _close(cylayers.triu(sq, k), torch.triu(tsq, k))
    (sq.tril(-1) * 3).sum().backward()
    (tsq.tril(-1) * 3).sum().backward()
    _close(sq.grad, tsq.grad)


RESHUFFLES = [("narrow", lambda m, x: x.narrow(1, 1, 2)),
              ("narrow_negative_start", lambda m, x: m.narrow(x, -1, -3, 2)),
              ("unbind", lambda m, x: x.unbind(1)),
              ("unbind_fn", lambda m, x: m.unbind(x, -1)),
              ("flip", lambda m, x: x.flip(0)),
              ("flip_dims", lambda m, x: x.flip(0, 2)),
              ("flip_list", lambda m, x: m.flip(x, [1, 2])),
              ("roll", lambda m, x: x.roll(1, 2)),
              ("roll_negative", lambda m, x: x.roll(-4, 1)),
              ("roll_pairs", lambda m, x: m.roll(x, (1, -2), (0, 2))),
              ("roll_flat", lambda m, x: x.roll(3)),
              ("outer", lambda m, x: m.outer(x[0, 0], x[1, 2])),
              ("ger", lambda m, x: m.ger(x[0, 1], x[1, 0])),
              ("normalize", lambda m, x: m.nn.functional.normalize(x)),
              ("normalize_p1", lambda m, x: m.nn.functional.normalize(x, p=1, dim=-1))]


@pytest.mark.parametrize("name,fn", RESHUFFLES, ids=[r[0] for r in RESHUFFLES])
def test_reshuffles_values_gradients_and_gradcheck(name, fn):
    arr = RNG.standard_normal((2, 3, 4))
    x, tx = _pair(arr)
    out, tout = fn(cylayers, x), fn(torch, tx)
    _close(out, tout)
    outs, touts = (out, tout) if isinstance(tout, tuple) else ((out,), (tout,))
    for o, t in zip(outs, touts):
        w = RNG.standard_normal(tuple(t.shape))
        (o * cylayers.tensor(w)).sum().backward(retain_graph=True)
        (t * torch.tensor(w)).sum().backward(retain_graph=True)
    _close(x.grad, tx.grad, atol=1e-12)
    assert gradcheck(lambda t: fn(cylayers, t), [cylayers.tensor(arr, requires_grad=True)])


def test_normalize_of_a_zero_row_is_zero_with_zero_gradient():
    arr = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]])
    x, tx = _pair(arr)
    y, ty = cylayers.nn.functional.normalize(x), torch.nn.functional.normalize(tx)
    _close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    _close(x.grad, tx.grad)
    assert x.grad.numpy()[0].tolist() == [1e12] * 3  # PyTorch's value: 1/eps through the clamp


def test_narrow_and_unbind_are_views_flip_and_roll_copies():
    x = cylayers.tensor(np.arange(12.0).reshape(3, 4))
    x.narrow(0, 1, 1).fill_(-1)
    x.unbind(0)[2].fill_(-2)
    assert x.numpy()[1].tolist() == [-1] * 4 and x.numpy()[2].tolist() == [-2] * 4
    x.flip(1).fill_(7)
    x.roll(1, 0).fill_(7)
    x.flip([]).fill_(7)
    assert (x.numpy() != 7).all()


@pytest.mark.parametrize("call,error,message", [
    (lambda m, x: x.narrow(1, 3, 2), RuntimeError,
     r"start \(3\) \+ length \(2\) exceeds dimension size \(4\)"),
    (lambda m, x: x.narrow(1, 5, 0), IndexError, "start out of range"),
    (lambda m, x: x.roll((1, 2), 0), RuntimeError, "shifts and dimensions must align"),
    (lambda m, x: x.roll((1, 2)), RuntimeError, "shifts and dimensions must align"),
    (lambda m, x: x.flip(2), IndexError, "Dimension out of range"),
    (lambda m, x: m.outer(x, x[0]), RuntimeError, "1-D"),
])
def test_reshuffle_errors(call, error, message):
    x = cylayers.zeros(3, 4)
    with pytest.raises(error, match=message):
        call(cylayers, x)
    with pytest.raises((RuntimeError, IndexError)):
        call(torch, torch.zeros(3, 4))


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), -1])
def test_count_nonzero(dim):
    arr = np.array([[0.0, 1.5, 0.0, -2.0], [3.0, 0.0, np.nan, 0.0], [0.0] * 4])
    kw = {} if dim is None else {"dim": dim}
    _close(cylayers.tensor(arr).count_nonzero(**kw), torch.tensor(arr).count_nonzero(**kw))
    _close(cylayers.count_nonzero(cylayers.tensor(arr), **kw),
           torch.count_nonzero(torch.tensor(arr), **kw))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_new_factories_follow_the_tensor_dtype(dtype):
    x, tx = cylayers.tensor(np.ones(2, dtype)), torch.tensor(np.ones(2, dtype))
    _close(x.new_zeros(2, 3), tx.new_zeros(2, 3))
    _close(x.new_ones((3,)), tx.new_ones((3,)))
    _close(x.new_full((2, 2), 5), tx.new_full((2, 2), 5))
    _close(x.new_tensor([[1, 2]]), tx.new_tensor([[1, 2]]))
    assert x.new_empty(4).shape == (4,) and x.new_empty(4).dtype == x.dtype
    _close(x.new_zeros(2, dtype=cylayers.float64), tx.new_zeros(2, dtype=torch.float64))
    y = x.new_ones(3, requires_grad=True)
    assert y.requires_grad and y.is_leaf


COMPOSITES = [("repeat_interleave", lambda m, x: x.repeat_interleave(2, dim=1)),
              ("repeat_interleave_counts", lambda m, x: m.repeat_interleave(
                  x, m.tensor([1, 0, 3]), dim=1)),
              ("repeat_interleave_flat", lambda m, x: x.repeat_interleave(2)),
              ("diff", lambda m, x: x.diff()),
              ("diff_twice_dim1", lambda m, x: m.diff(x, n=2, dim=1)),
              ("diff_prepend_append", lambda m, x: x.diff(dim=2, prepend=x[:, :, :1] * 0.5,
                                                          append=x[:, :, -2:] ** 2)),
              ("meshgrid_ij", lambda m, x: m.meshgrid(x[0, 0], x[1, 1, :3], indexing="ij")),
              ("meshgrid_xy", lambda m, x: m.meshgrid(x[0, 0], x[1, 1, :3], x[0, 2, :2],
                                                      indexing="xy")),
              ("tensordot_int", lambda m, x: m.tensordot(x, x.transpose(0, 2), dims=1)),
              ("tensordot_pairs", lambda m, x: m.tensordot(x, x, dims=([1, 2], [1, 2]))),
              ("tensordot_zero", lambda m, x: m.tensordot(x[0], x[1, 0], dims=0)),
              ("cdist", lambda m, x: m.cdist(x[0], x[1])),
              ("cdist_p1_batched", lambda m, x: m.cdist(x, x[:, :2] * 2, p=1.0)),
              ("cdist_p3", lambda m, x: m.cdist(x[0], x[1, :1], p=3.0))]


@pytest.mark.parametrize("name,fn", COMPOSITES, ids=[c[0] for c in COMPOSITES])
def test_composites_values_gradients_and_gradcheck(name, fn):
    test_reshuffles_values_gradients_and_gradcheck(name, fn)


def test_repeat_interleave_of_counts_and_errors():
    _close(cylayers.repeat_interleave(cylayers.tensor([2, 0, 3])),
           torch.repeat_interleave(torch.tensor([2, 0, 3])))
    with pytest.raises(RuntimeError, match="repeats must have the same size"):
        cylayers.zeros(3, 4).repeat_interleave(cylayers.tensor([1, 2]), dim=1)
    with pytest.raises(RuntimeError, match="repeats can not be negative"):
        cylayers.zeros(3).repeat_interleave(-1)


def test_tensordot_cdist_meshgrid_errors():
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        cylayers.tensordot(cylayers.zeros(2, 3), cylayers.zeros(2, 3), dims=1)
    with pytest.raises(RuntimeError, match="same number of columns"):
        cylayers.cdist(cylayers.zeros(2, 3), cylayers.zeros(2, 4))
    with pytest.raises(ValueError, match="indexing must be one of"):
        cylayers.meshgrid(cylayers.zeros(2), indexing="yx")
    with pytest.raises(RuntimeError, match="at least one-dimensional"):
        cylayers.tensor(1.0).diff()


@pytest.mark.parametrize("call", [
    lambda m: m.bincount(m.tensor([0, 1, 1, 3, 7])),
    lambda m: m.tensor([2, 2, 0]).bincount(minlength=5),
    lambda m: m.bincount(m.tensor([0, 1, 1, 3]), weights=m.tensor([0.5, 1.0, 1.0, 2.0])),
    lambda m: m.bincount(m.tensor([1, 1]), weights=m.tensor([0.5, 1.0], dtype=m.float64)),
    lambda m: m.unique(m.tensor([3, 1, 1, 2, 3])),
    lambda m: m.tensor([[3.0, -1.0], [3.0, 0.5]]).unique(return_inverse=True),
    lambda m: m.unique(m.tensor([3, 1, 1, 2]), return_inverse=True, return_counts=True),
    lambda m: m.unique(m.tensor([5, 1, 5]), sorted=False, return_counts=True),
    lambda m: m.searchsorted(m.tensor([1.0, 2.0, 3.0]), m.tensor([[2.0, 0.0], [3.0, 9.0]])),
    lambda m: m.searchsorted(m.tensor([1.0, 2.0, 3.0]), m.tensor([2.0, 3.0]), right=True),
    lambda m: m.searchsorted(m.tensor([[1, 3], [2, 4]]), m.tensor([[3], [3]]), side="right"),
    lambda m: m.searchsorted(m.tensor([1, 3, 5]), m.tensor([3]), out_int32=True),
    lambda m: m.searchsorted(m.tensor([5.0, 1.0, 3.0]), m.tensor([2.0, 4.0]),
                             sorter=m.tensor([1, 2, 0])),
])
def test_counting_and_searching_match_torch(call):
    _close(call(cylayers), call(torch))


def test_bincount_rejects_negative_or_float_input():
    for bad in (cylayers.tensor([1, -1]), cylayers.tensor([1.0]), cylayers.tensor([[1]])):
        with pytest.raises(RuntimeError, match="1-d non-negative integral"):
            bad.bincount()


@pytest.mark.parametrize("zeros", [(), ((1, 2, 1),), ((0, 0, 0), (0, 0, 2)), ((2, 3, 3),),
                                   ((1, 0, 2), (1, 1, 2), (1, 2, 2))])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod_values_and_gradients_with_zeros(dim, zeros):
    # Zeros (one, several in a slice, first, last) are where dividing by x would go wrong.
    arr = RNG.standard_normal((3, 4, 5))
    for z in zeros:
        arr[z] = 0.0
    x, tx = _pair(arr)
    y, ty = x.cumprod(dim), torch.cumprod(tx, dim)
    _close(y, ty)
    _close(cylayers.cumprod(x, dim), ty)
    w = RNG.standard_normal(arr.shape)
    (y * cylayers.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    _close(x.grad, tx.grad, atol=1e-12)
    assert gradcheck(lambda t: t.cumprod(dim), [cylayers.tensor(arr, requires_grad=True)])


def test_cumprod_dtypes_and_scalars():
    _close(cylayers.tensor([1, 2, 3]).cumprod(0), torch.tensor([1, 2, 3]).cumprod(0))
    _close(cylayers.tensor([True, False]).cumprod(0), torch.tensor([True, False]).cumprod(0))
    _close(cylayers.tensor(2.5).cumprod(0), torch.tensor(2.5).cumprod(0))
    _close(cylayers.tensor([1, 2]).cumprod(0, dtype=cylayers.float64),
           torch.tensor([1, 2]).cumprod(0, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bins,lo,hi", [(7, 0, 0), (13, 1, 6), (100, 0, 1), (3, 2, 5), (1, 0, 0)])
def test_histc_matches_torch_bin_for_bin(bins, lo, hi, dtype):
    # Values on multiples of 1/7 put many elements exactly on (or next to) bin edges.
    arr = (np.random.default_rng(bins).integers(0, 50, 2000) / 7).astype(dtype)
    _close(cylayers.histc(cylayers.tensor(arr), bins=bins, min=lo, max=hi),
           torch.histc(torch.tensor(arr), bins=bins, min=lo, max=hi))


@pytest.mark.parametrize("values,kw", [([1.0, 1.0, 1.0], {"bins": 2}), ([], {"bins": 3}),
                                       ([1.0, np.nan, 5.0], {"bins": 2, "min": 0, "max": 2}),
                                       ([0.0, 10.0], {"bins": 4})])
def test_histc_corner_cases(values, kw):
    _close(cylayers.histc(cylayers.tensor(values), **kw), torch.histc(torch.tensor(values), **kw))


def test_histc_errors():
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        cylayers.histc(cylayers.tensor([1.0]), bins=0)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        cylayers.histc(cylayers.tensor([1.0]), bins=3, min=2, max=1)
