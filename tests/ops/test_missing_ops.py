"""Everyday ops PyTorch code reaches for, each against PyTorch: values, dtypes and gradients
(float64), generated from one table so that adding an op adds its cases."""
import numpy as np
import pytest
import torch

import cylayers
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck

TF = torch.nn.functional
RNG = np.random.default_rng(0)
X34 = RNG.standard_normal((3, 4))
X45 = RNG.standard_normal((4, 5))
IDX = np.array([[0, 1, 2, 0], [1, 2, 0, 1]])
SRC = RNG.standard_normal((2, 4))


def _lib_inputs(lib, arrays):
    if lib is torch:
        return [torch.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray)
                else a for a in arrays]
    return [cylayers.tensor(a, requires_grad=a.dtype.kind == "f")
            if isinstance(a, np.ndarray) else a for a in arrays]


# name -> (function of (lib, F, *inputs), inputs); inputs that are float arrays get gradients
CASES = {
    "scatter": (lambda L, f, x, s: x.scatter(0, L.tensor(IDX), s), [X34, SRC]),
    "scatter_value": (lambda L, f, x: x.scatter(1, L.tensor(IDX), 2.5), [X34]),
    "scatter_add": (lambda L, f, x, s: x.scatter_add(0, L.tensor(IDX), s), [X34, SRC]),
    "scatter_add_small_index": (lambda L, f, x, s: x.scatter_add(
        1, L.tensor(IDX[:1, :2]), s[:1, :2]), [X34, SRC]),
    "torch.scatter_add": (lambda L, f, x, s: L.scatter_add(x, 0, L.tensor(IDX), s), [X34, SRC]),
    "scatter_reduce_sum": (lambda L, f, x, s: x.scatter_reduce(0, L.tensor(IDX), s, "sum"),
                           [X34, SRC]),
    "scatter_reduce_amax": (lambda L, f, x, s: x.detach().scatter_reduce(
        0, L.tensor(IDX), s.detach(), "amax", include_self=False), [X34, SRC]),
    "scatter_reduce_mean": (lambda L, f, x, s: x.detach().scatter_reduce(
        0, L.tensor(IDX), s.detach(), "mean"), [X34, SRC]),
    "scatter_reduce_prod_zeros": (lambda L, f, x, s: x.scatter_reduce(
        0, L.tensor(IDX), s * L.tensor([[1.0, 0, 1, 1], [0, 0, 1, 1]]), "prod"), [X34, SRC]),
    "scatter_reduce_prod_no_self": (lambda L, f, x, s: x.scatter_reduce(
        0, L.tensor(IDX), s, "prod", include_self=False), [X34, SRC]),
    "scatter_reduce_mean_grad": (lambda L, f, x, s: x.scatter_reduce(
        0, L.tensor(IDX), s, "mean", include_self=False), [X34, SRC]),
    "scatter_reduce_amax_grad": (lambda L, f, x, s: x.scatter_reduce(
        0, L.tensor(IDX), s, "amax"), [X34, SRC]),
    "scatter_reduce_amin_ties": (lambda L, f, x, s: x.scatter_reduce(
        0, L.tensor(IDX), s * 0 + x[:2], "amin"), [X34, SRC]),
    "index_add": (lambda L, f, x, s: x.index_add(0, L.tensor([2, 0]), s, alpha=2.0),
                  [X34, SRC]),
    "index_copy": (lambda L, f, x, s: x.index_copy(0, L.tensor([2, 0]), s), [X34, SRC]),
    "index_fill": (lambda L, f, x: x.index_fill(1, L.tensor([1, 3]), -1.0), [X34]),
    "masked_scatter": (lambda L, f, x, s: x.masked_scatter(L.tensor(X34 > 0), s), [X34, X45]),
    "masked_select": (lambda L, f, x: x.masked_select(L.tensor(X34 > 0)), [X34]),
    "gather_small_index": (lambda L, f, x: x.gather(1, L.tensor([[0, 2], [3, 3]])), [X34]),
    "cummax": (lambda L, f, x: L.cummax(x, 1).values, [X34]),
    "cummin": (lambda L, f, x: x.cummin(0).values, [X34]),
    "cummax_indices": (lambda L, f, x: L.cummax(x.detach(), 1).indices, [X34]),
    "logcumsumexp": (lambda L, f, x: L.logcumsumexp(x * 30, 1), [X34]),
    "diagonal": (lambda L, f, x: x.diagonal(), [X34]),
    "diagonal_offset": (lambda L, f, x: L.diagonal(x, 1), [X45]),
    "diagonal_negative": (lambda L, f, x: x.diagonal(-1), [X45]),
    "trace": (lambda L, f, x: L.trace(x), [X34]),
    "diag_vector": (lambda L, f, x: L.diag(x[0], 1), [X34]),
    "diag_matrix": (lambda L, f, x: L.diag(x, -1), [X45]),
    "diag_embed": (lambda L, f, x: L.diag_embed(x), [X34]),
    "copysign": (lambda L, f, x, y: L.copysign(x, y), [X34, X34[::-1].copy()]),
    "div_trunc": (lambda L, f, x: L.div(x * 5, 2, rounding_mode="trunc"), [X34]),
    "div_floor": (lambda L, f, x: x.div(x[0] + 0.3, rounding_mode="floor"), [X34]),
    "floor_divide": (lambda L, f, x: L.floor_divide(x.detach() * 7, 2.0), [X34]),
    "int_div_trunc": (lambda L, f: L.div(L.tensor([7, -7, 7, -7]), L.tensor([2, 2, -2, -2]),
                                         rounding_mode="trunc"), []),
    "int_div_floor": (lambda L, f: L.div(L.tensor([7, -7, 7, -7]), L.tensor([2, 2, -2, -2]),
                                         rounding_mode="floor"), []),
    "isclose": (lambda L, f, x: L.isclose(x.detach(), x.detach() + 1e-6), [X34]),
    "argwhere": (lambda L, f, x: L.argwhere(x.detach() > 0), [X34]),
    "nonzero_method": (lambda L, f, x: (x.detach() > 0).nonzero(), [X34]),
    "std_mean": (lambda L, f, x: L.stack(L.std_mean(x, dim=1)), [X34]),
    "var_mean": (lambda L, f, x: L.stack(L.var_mean(x, 0, correction=0)), [X34]),
    "sum_axis": (lambda L, f, x: x.sum(axis=1), [X34]),
    "mean_axis": (lambda L, f, x: L.mean(x, axis=0, keepdims=True), [X34]),
    "max_axis": (lambda L, f, x: x.max(axis=1).values, [X34]),
    "std_axis": (lambda L, f, x: x.std(axis=0), [X34]),
    "any_axis": (lambda L, f, x: (x.detach() > 1).any(axis=1), [X34]),
    "softsign": (lambda L, f, x: f.softsign(x), [X34]),
    "logsigmoid": (lambda L, f, x: f.logsigmoid(x * 10), [X34]),
    "tanhshrink": (lambda L, f, x: f.tanhshrink(x), [X34]),
    "softshrink": (lambda L, f, x: f.softshrink(x, 0.4), [X34]),
    "hardshrink": (lambda L, f, x: f.hardshrink(x, 0.4), [X34]),
    "threshold": (lambda L, f, x: f.threshold(x, 0.1, -2.0), [X34]),
    "glu": (lambda L, f, x: f.glu(x, 1), [X34]),
    "modules": (lambda L, f, x: L.nn.Softsign()(x) + L.nn.LogSigmoid()(x) +
                L.nn.Tanhshrink()(x) + L.nn.Softshrink(0.3)(x) + L.nn.Hardshrink()(x) +
                L.nn.Threshold(0.2, 1.0)(x) + L.nn.GLU(0)(L.cat([x, x]) * 1), [X34]),
    "unfold": (lambda L, f, x: x.unfold(1, 2, 1), [X34]),
    "unfold_step": (lambda L, f, x: x.unfold(0, 2, 2) * 3, [X45]),
    "unfold_overlap_3d": (lambda L, f, x: x.reshape(2, 2, 5).unfold(2, 3, 1), [X45]),
    "unfold_whole": (lambda L, f, x: x.unfold(-1, 4, 3), [X34]),
    "maximum_method_tie": (lambda L, f, x: x.max(x.detach().clamp(min=0) * 1.0), [X34]),
    "prelu_method": (lambda L, f, x: x.prelu(L.tensor([0.25, 0.5, 0.1, 2.0],
                                                       dtype=L.float64)), [X34]),
    "prelu_method_shared": (lambda L, f, x: x.prelu(L.tensor([0.3], dtype=L.float64)), [X34]),
    "histc_method": (lambda L, f, x: x.detach().histc(bins=5, min=-1, max=1), [X34]),
    "unsafe_chunk": (lambda L, f, x: x.unsafe_chunk(3, 1)[1], [X45]),
    "unsafe_split": (lambda L, f, x: x.unsafe_split(2, 0)[-1], [X45]),
}


def test_device_and_layout_queries_match_pytorch():
    ours, theirs = cylayers.ones(2), torch.ones(2)
    for name in ("get_device",):
        assert getattr(ours, name)() == getattr(theirs, name)()
    for name in ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_nested",
                 "is_mkldnn", "is_cpu"):
        assert getattr(ours, name) == getattr(theirs, name), name


def test_multinomial_method_is_the_function():
    probs = cylayers.tensor([0.0, 1.0, 0.0])
    assert probs.multinomial(3, replacement=True).tolist() == [1, 1, 1]
    cylayers.manual_seed(3)
    a = cylayers.tensor([0.2, 0.3, 0.5]).multinomial(2)
    cylayers.manual_seed(3)
    assert a.tolist() == cylayers.multinomial(cylayers.tensor([0.2, 0.3, 0.5]), 2).tolist()


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_pytorch(name):
    fn, arrays = CASES[name]
    ours_in = _lib_inputs(cylayers, arrays)
    theirs_in = _lib_inputs(torch, arrays)
    ours, theirs = fn(cylayers, F, *ours_in), fn(torch, TF, *theirs_in)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    if theirs.requires_grad:
        g = RNG.standard_normal(tuple(theirs.shape))
        ours.backward(cylayers.tensor(g))
        theirs.backward(torch.tensor(g))
        for o, t in zip(ours_in, theirs_in):
            if isinstance(t, torch.Tensor) and t.requires_grad:
                np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12,
                                           atol=1e-12)


def test_inplace_index_writes():
    for name in ("index_add_", "index_copy_", "scatter_add_"):
        x_o, x_t = cylayers.tensor(X34.copy()), torch.tensor(X34.copy())
        if name == "scatter_add_":
            args_o, args_t = (0, cylayers.tensor(IDX), cylayers.tensor(SRC)), \
                (0, torch.tensor(IDX), torch.tensor(SRC))
        else:
            args_o, args_t = (0, cylayers.tensor([2, 0]), cylayers.tensor(SRC)), \
                (0, torch.tensor([2, 0]), torch.tensor(SRC))
        getattr(x_o, name)(*args_o)
        getattr(x_t, name)(*args_t)
        np.testing.assert_allclose(x_o.numpy(), x_t.numpy(), rtol=1e-12)


def test_errors_match_pytorch():
    with pytest.raises(RuntimeError, match="out of bounds"):
        cylayers.zeros(3, 4).scatter(0, cylayers.tensor([[5]]), 1.0)
    with pytest.raises(IndexError):
        cylayers.zeros(3, 4).index_add(0, cylayers.tensor([7]), cylayers.ones(1, 4))
    with pytest.raises(RuntimeError, match="at least as many"):
        cylayers.zeros(3).masked_scatter(cylayers.tensor([True, True, True]), cylayers.ones(2))
    with pytest.raises(ValueError, match="rounding_mode"):
        cylayers.ones(2).div(2, rounding_mode="round")


def test_multinomial():
    cylayers.manual_seed(0)
    draws = cylayers.multinomial(cylayers.tensor([[0.0, 1.0, 3.0], [1.0, 0.0, 0.0]]), 1000,
                                 replacement=True)
    assert draws.shape == (2, 1000) and draws.dtype == cylayers.int64
    counts = np.bincount(draws.numpy()[0], minlength=3)
    assert counts[0] == 0 and 650 < counts[2] < 850
    assert (draws.numpy()[1] == 0).all()
    once = cylayers.multinomial(cylayers.tensor([1.0, 1.0, 1.0, 1.0]), 4)
    assert sorted(once.tolist()) == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="cannot sample"):
        cylayers.multinomial(cylayers.tensor([1.0, 1.0]), 3)


EINSUM_CASES = [("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
                ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 5)]),
                ("...ii->...i", [(2, 3, 3)]), ("i...,i...", [(3, 2), (3, 2)]),
                ("...,...->...", [(2, 3), (3,)]), ("b...d,bd->b...", [(2, 3, 4, 5), (2, 5)]),
                ("ij...", [(2, 3, 4)]), ("...ij->ji", [(2, 3, 4)]), ("ii->", [(4, 4)]),
                ("ii->i", [(4, 4)]), ("bii,bj->bj", [(2, 3, 3), (2, 5)]), ("iji->j", [(3, 4, 3)]),
                ("ii", [(3, 3)]), ("ij,jk", [(3, 4), (4, 5)])]


@pytest.mark.parametrize("equation,shapes", EINSUM_CASES)
def test_einsum_with_ellipsis_and_repeated_indices_matches_pytorch(equation, shapes):
    rng = np.random.default_rng(len(equation))
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [cylayers.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_c, out_t = cylayers.einsum(equation, *ours), torch.einsum(equation, *theirs)
    assert tuple(out_c.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_c.detach().numpy(), out_t.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(tuple(out_t.shape))
    out_c.backward(cylayers.tensor(g))
    out_t.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-14)
    if len(arrays) <= 2:
        assert gradcheck(lambda *xs: cylayers.einsum(equation, *xs),
                         tuple(cylayers.tensor(a, requires_grad=True) for a in arrays))
