"""cylayers.linalg norms against torch.linalg: values, gradients and float64 gradcheck."""
import math

import numpy as np
import pytest
import torch

import cylayers
from cylayers.autograd import gradcheck
from helpers import assert_close, to_torch

CASES = [
    ("norm", lambda m, x: m.linalg.norm(x)),
    ("norm_matrix_1", lambda m, x: m.linalg.norm(x[0], ord=1)),
    ("norm_matrix_inf", lambda m, x: m.linalg.norm(x[0], ord=math.inf)),
    ("norm_matrix_-1", lambda m, x: m.linalg.norm(x[0], ord=-1)),
    ("norm_matrix_-inf", lambda m, x: m.linalg.norm(x[0], ord=-math.inf)),
    ("norm_matrix_fro", lambda m, x: m.linalg.norm(x[1], ord="fro")),
    ("norm_matrix_nuc", lambda m, x: m.linalg.norm(x[1], ord="nuc")),
    ("matrix_norm_2", lambda m, x: m.linalg.matrix_norm(x, ord=2)),
    ("matrix_norm_-2_keepdim", lambda m, x: m.linalg.matrix_norm(x, ord=-2, keepdim=True)),
    ("matrix_norm_2_dims", lambda m, x: m.linalg.matrix_norm(x, ord=2, dim=(0, 2))),
    ("norm_vector_1d", lambda m, x: m.linalg.norm(x[0, 0], ord=1)),
    ("norm_dim_int", lambda m, x: m.linalg.norm(x, ord=3, dim=1)),
    ("norm_dims_keepdim", lambda m, x: m.linalg.norm(x, dim=(0, 2), keepdim=True)),
    ("matrix_norm", lambda m, x: m.linalg.matrix_norm(x)),
    ("matrix_norm_1_swapped", lambda m, x: m.linalg.matrix_norm(x, ord=1, dim=(2, 0))),
    ("matrix_norm_-inf_keepdim", lambda m, x: m.linalg.matrix_norm(x, ord=-math.inf,
                                                                   keepdim=True)),
    ("vector_norm_half", lambda m, x: m.linalg.vector_norm(x, ord=0.5)),
    ("vector_norm_inf", lambda m, x: m.linalg.vector_norm(x, ord=math.inf, dim=(1, 2))),
    ("vector_norm_widening", lambda m, x: m.linalg.vector_norm(x.float(), dtype=m.float64)),
]


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_norms_match_torch_with_gradients(name, fn):
    arr = np.random.default_rng(0).standard_normal((3, 4, 5))
    x, tx = cylayers.tensor(arr, requires_grad=True), to_torch(arr, requires_grad=True)
    y, ty = fn(cylayers, x), fn(torch, tx)
    assert str(y.dtype).split(".")[-1] == str(ty.dtype).split(".")[-1]
    assert_close(y, ty, np.float64)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad, np.float64)
    if "widening" not in name:  # a float32 step has no float64 finite differences
        assert gradcheck(lambda t: fn(cylayers, t), [cylayers.tensor(arr, requires_grad=True)])


def test_exact_matrix_norms():
    a = cylayers.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert cylayers.linalg.norm(a, ord=1).item() == 6.0  # largest column sum |-2| + |4|
    assert cylayers.linalg.norm(a, ord=math.inf).item() == 7.0  # largest row sum
    assert cylayers.linalg.norm(a, ord=-1).item() == 4.0
    assert cylayers.linalg.norm(a, ord=-math.inf).item() == 3.0
    assert cylayers.linalg.norm(a).item() == pytest.approx(math.sqrt(30))


@pytest.mark.parametrize("call,error,message", [
    (lambda m: m.linalg.matrix_norm(m.zeros(3), ord=1), RuntimeError, "at least 2 dimensions"),
    (lambda m: m.linalg.matrix_norm(m.zeros(2, 3), ord=3), RuntimeError, "not supported"),
    (lambda m: m.linalg.matrix_norm(m.zeros(2, 3, 4), dim=(4, -1)), IndexError,
     "Dimension out of range"),
    (lambda m: m.linalg.norm(m.zeros(2, 3, 4), ord=1), RuntimeError, "must be 1D or 2D"),
    (lambda m: m.linalg.vector_norm(m.zeros(2), ord="fro"), TypeError, "'ord' must be Number"),
    (lambda m: m.linalg.vector_norm(m.zeros(2, dtype=m.float64), dtype=m.float32), RuntimeError,
     "without narrowing"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(cylayers)
    if error is not NotImplementedError:
        with pytest.raises(error):
            call(torch)


# ---------------------------------------------------------------- decompositions: gradcheck
_R = np.random.default_rng(7)
_SQ = _R.standard_normal((3, 3)) + 3 * np.eye(3)
_TALL = _R.standard_normal((4, 3))


def _sym(a):
    return (a + a.mT) / 2


DECOMPOSITIONS = {
    "inv": (lambda a: cylayers.linalg.inv(a), [_SQ]),
    "det": (lambda a: cylayers.linalg.det(a), [_SQ]),
    "det_singular": (lambda a: cylayers.linalg.det(a), [np.array([[1.0, 2, 3], [2, 4, 6],
                                                                  [0.5, 1, -1]])]),
    "slogdet": (lambda a: cylayers.linalg.slogdet(a).logabsdet, [_SQ]),
    "solve": (lambda a, b: cylayers.linalg.solve(a, b), [_SQ, _R.standard_normal((3, 2))]),
    "cholesky": (lambda a: cylayers.linalg.cholesky(_sym(a) @ _sym(a).mT + 3 *
                                                    cylayers.eye(3, dtype=cylayers.float64)),
                 [_SQ]),
    "eigh": (lambda a: (lambda w, v: w.sum() * 0 + (v.abs() * w).sum())(
        *cylayers.linalg.eigh(_sym(a))), [_SQ]),
    "svd": (lambda a: (lambda u, s, vh: (u.abs() * s).sum() + vh.abs().sum())(
        *cylayers.linalg.svd(a, full_matrices=False)), [_TALL]),
    "qr": (lambda a: (lambda q, r: q.sum() + r.sum())(*cylayers.linalg.qr(a)), [_TALL]),
    "pinv": (lambda a: cylayers.linalg.pinv(a), [_TALL]),
    "matrix_exp": (lambda a: cylayers.linalg.matrix_exp(a * 0.3), [_SQ]),
    "solve_triangular": (lambda a, b: cylayers.linalg.solve_triangular(a, b, upper=True),
                         [_SQ, _R.standard_normal((3, 2))]),
}


@pytest.mark.parametrize("name", sorted(DECOMPOSITIONS))
def test_decomposition_gradcheck(name):
    fn, arrays = DECOMPOSITIONS[name]
    inputs = [cylayers.tensor(a, requires_grad=True) for a in arrays]
    assert gradcheck(fn, inputs)


def test_decomposition_errors_are_clear():
    with pytest.raises(RuntimeError, match="singular"):
        cylayers.linalg.inv(cylayers.zeros(3, 3))
    with pytest.raises(RuntimeError, match="positive-definite"):
        cylayers.linalg.cholesky(-cylayers.eye(3))
    with pytest.raises(RuntimeError, match="square"):
        cylayers.linalg.det(cylayers.ones(2, 3))
    info = cylayers.linalg.inv_ex(cylayers.zeros(2, 2)).info
    assert info.item() == 1
