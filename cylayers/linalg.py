"""torch.linalg: vector and matrix norms composed from differentiable tensor ops, and the
decompositions and solves (inv, det, slogdet, solve, cholesky, eigh, svd, qr, pinv,
matrix_power, lstsq...) on numpy's LAPACK with PyTorch's gradients (cylayers._ops.linalg)."""
import collections
import math

import numpy as np

from cylayers import _dtype
from cylayers._functions import stack
from cylayers._ops import linalg as linalg_ops
from cylayers._tensor_base import TensorBase, _norm_dim
from cylayers._tensor_arithmetic import _where
from cylayers._tensor_types import scalar_type_name

_SVD_ORDERS = ("nuc", 2, -2)


def _check_dtype(x, dtype, name):
    """PyTorch computes in ``dtype`` only when the input converts to it without narrowing."""
    if dtype is not None and np.dtype(_dtype.to_numpy_dtype(dtype)).itemsize < \
            x._array.dtype.itemsize:
        raise RuntimeError(f"linalg.{name}: the dtype of the input ({x.dtype}) should be "
                           f"convertible without narrowing to the specified dtype ({dtype})")


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ``ord``-norm of x's elements (all of them, or over ``dim``)."""
    if isinstance(ord, str):
        raise TypeError("linalg_vector_norm(): argument 'ord' must be Number, not str")
    _check_dtype(x, dtype, "vector_norm")
    return x.norm(float(ord), dim=dim, keepdim=keepdim, dtype=dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Norms of the matrices in the two dims ``dim``: 'fro', or the largest (smallest) absolute
    column (1 / -1) or row (inf / -inf) sum."""
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    _check_dtype(A, dtype, "matrix_norm")
    x = A if dtype is None else A.type(dtype)
    rows, cols = (_norm_dim(d, x.dim()) for d in dim)
    if rows == cols:
        raise RuntimeError("linalg.matrix_norm: dims must be different")
    if ord == "fro":
        return x.norm(2, dim=(rows, cols), keepdim=keepdim)
    if ord in _SVD_ORDERS:  # from the singular values of the matrices in (rows, cols)
        moved = x.movedim((rows, cols), (-2, -1))
        sv = svdvals(moved)
        out = sv.sum(-1) if ord == "nuc" else sv.amax(-1) if ord == 2 else sv.amin(-1)
        if keepdim:
            out = out.unsqueeze(min(rows, cols)).unsqueeze(max(rows, cols))
        return out
    if ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    # ord 1 sums each column (over the row dim), then takes the max over columns; inf the
    # other way round.
    summed, over = (rows, cols) if abs(ord) == 1 else (cols, rows)
    sums = x.abs().sum(dim=summed, keepdim=True)
    out = sums.amax(dim=over, keepdim=True) if ord > 0 else sums.amin(dim=over, keepdim=True)
    return out if keepdim else out.squeeze((rows, cols) if rows < cols else (cols, rows))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: ord None is the 2-norm of all elements (Frobenius for matrices);
    otherwise a vector norm over one dim, or a matrix norm over two (the last two of a 2-D
    input when dim is None)."""
    if not isinstance(A, TensorBase):
        raise TypeError(f"linalg.norm(): argument 'input' must be Tensor, not "
                        f"{type(A).__name__}")
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        _check_dtype(A, dtype, "norm")
        return A.norm(2, dim=dim, keepdim=keepdim, dtype=dtype)
    if dim is None:
        if A.dim() not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.dim()}D.")
        dim = tuple(range(A.dim()))
    if len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


# ------------------------------------------------------------------ decompositions and solves
_slogdet_result = collections.namedtuple("slogdet", ["sign", "logabsdet"])
_eigh_result = collections.namedtuple("eigh", ["eigenvalues", "eigenvectors"])
_svd_result = collections.namedtuple("svd", ["U", "S", "Vh"])
_qr_result = collections.namedtuple("qr", ["Q", "R"])
_inv_ex_result = collections.namedtuple("inv_ex", ["inverse", "info"])
_cholesky_ex_result = collections.namedtuple("cholesky_ex", ["L", "info"])
_lstsq_result = collections.namedtuple("lstsq", ["solution", "residuals", "rank",
                                                  "singular_values"])


def _tensor(x, name):
    if not isinstance(x, TensorBase):
        raise TypeError(f"linalg.{name}(): argument 'A' must be Tensor, not {type(x).__name__}")
    return x


def inv(A):
    return linalg_ops.Inv.apply(_tensor(A, "inv"))


def inv_ex(A, *, check_errors=False):
    try:
        return _inv_ex_result(inv(A), TensorBase._make(np.zeros(A.shape[:-2], np.int32)))
    except RuntimeError:
        if check_errors:
            raise
        nan = TensorBase._make(np.full(A.shape, np.nan, A._array.dtype))
        return _inv_ex_result(nan, TensorBase._make(np.ones(A.shape[:-2], np.int32)))


def det(A):
    return linalg_ops.Det.apply(_tensor(A, "det"))


def slogdet(A):
    sign, logabsdet = linalg_ops.SLogDet.apply_multi(_tensor(A, "slogdet"))
    return _slogdet_result(sign, logabsdet)  # sign's gradient is zero, as in PyTorch


def solve(A, B, *, left=True):
    return linalg_ops.Solve.apply(_tensor(A, "solve"), B, left)


def cholesky(A, *, upper=False):
    return linalg_ops.Cholesky.apply(_tensor(A, "cholesky"), upper)


def cholesky_ex(A, *, upper=False, check_errors=False):
    try:
        return _cholesky_ex_result(cholesky(A, upper=upper),
                                   TensorBase._make(np.zeros(A.shape[:-2], np.int32)))
    except RuntimeError:
        if check_errors:
            raise
        return _cholesky_ex_result(TensorBase._make(np.zeros(A.shape, A._array.dtype)),
                                   TensorBase._make(np.ones(A.shape[:-2], np.int32)))


def eigh(A, UPLO="L"):
    w, v = linalg_ops.Eigh.apply_multi(_tensor(A, "eigh"), UPLO)
    return _eigh_result(w, v)


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO).eigenvalues


def svd(A, full_matrices=True, *, driver=None):
    if full_matrices and A.shape[-1] != A.shape[-2]:
        raise NotImplementedError("linalg.svd: full_matrices=True for a non-square matrix is "
                                  "not supported by cylayers; pass full_matrices=False")
    u, s, vh = linalg_ops.SVD.apply_multi(_tensor(A, "svd"))
    return _svd_result(u, s, vh)


def svdvals(A, *, driver=None):
    return svd(A, full_matrices=False).S


def qr(A, mode="reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    q, r = linalg_ops.QR.apply_multi(_tensor(A, "qr"), mode)
    if mode == "r":
        return _qr_result(TensorBase._make(np.zeros((0,), A._array.dtype)), r)
    return _qr_result(q, r)


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The pseudo-inverse V diag(1/s) U^T over the singular values above the tolerance
    (rtol defaults to eps * max(m, n), as PyTorch)."""
    u, s, vh = svd(A, full_matrices=False)
    eps = float(np.finfo(A._array.dtype).eps)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else eps * max(A.shape[-2:])
    top = s.detach().amax(-1, keepdim=True) if s.shape[-1] else s.detach()
    cutoff = np.maximum(float(atol or 0.0), (top * rtol)._array)
    keep = TensorBase._make(s._array > cutoff)
    inv_s = (1 / s.masked_fill(~keep, 1.0)).masked_fill(~keep, 0.0)
    return (vh.transpose(-2, -1) * inv_s.unsqueeze(-2)) @ u.transpose(-2, -1)


def matrix_power(A, n):
    if A.dim() < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError("linalg.matrix_power: A must be batches of square matrices")
    if n < 0:
        A, n = inv(A), -n
    result = None
    base = A
    while n:  # square and multiply
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    if result is None:  # the identity, with a zero gradient to A (PyTorch's)
        eye = np.broadcast_to(np.eye(A.shape[-1], dtype=A._array.dtype), A.shape).copy()
        return _where(TensorBase._make(np.ones((), bool)), TensorBase._make(eye), A)
    return result


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    s = svdvals(A.detach())._array
    eps = float(np.finfo(A._array.dtype).eps)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else eps * max(A.shape[-2:])
    top = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    return TensorBase._make((s > np.maximum(atol or 0.0, top * rtol)).sum(-1).astype(np.int64))


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    if B.dim() < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    return linalg_ops.SolveTriangular.apply(A, B, upper, left, unitriangular)


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution pinv(A) @ B (residuals and rank as PyTorch's default CPU
    driver 'gelsy' reports them: empty)."""
    vector = B.dim() == A.dim() - 1
    bb = B.unsqueeze(-1) if vector else B
    x = pinv(A) @ bb
    empty = TensorBase._make(np.zeros((0,), A._array.dtype))
    return _lstsq_result(x.squeeze(-1) if vector else x, empty,
                         TensorBase._make(np.zeros((0,), np.int64)), empty)


def multi_dot(tensors):
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        edge = i in (0, len(tensors) - 1)
        if t.dim() not in ((1, 2) if edge else (2,)):
            where = "first" if i == 0 else "last" if i == len(tensors) - 1 else None
            raise RuntimeError(f"multi_dot(): the {where} tensor must be 1D or 2D but got "
                               f"{t.dim()}D" if where else
                               f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    first_vector, last_vector = tensors[0].dim() == 1, tensors[-1].dim() == 1
    mats = [tensors[0].unsqueeze(0) if first_vector else tensors[0]] + tensors[1:-1] + \
        [tensors[-1].unsqueeze(-1) if last_vector else tensors[-1]]
    out = mats[0]
    for m in mats[1:]:
        out = out @ m
    if last_vector:
        out = out.squeeze(-1)
    if first_vector:
        out = out.squeeze(0)
    return out


def vecdot(x, y, *, dim=-1):
    if x.dtype != y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found "
                           f"x of type {scalar_type_name(x._array.dtype)} and y of type "
                           f"{scalar_type_name(y._array.dtype)} instead")
    return (x * y).sum(dim)


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (broadcasting the rest)."""
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    a, b = input.expand(*shape), other.expand(*shape)
    d = _norm_dim(dim, a.dim())
    if a.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    ax, ay, az = a.unbind(d)
    bx, by, bz = b.unbind(d)
    return stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], d)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


def matrix_exp(A):
    """exp(A) by scaling and squaring a degree-12 Taylor series (float64-accurate for the
    matrices networks use); differentiable through its products."""
    norm = float(np.abs(A._array).sum(-2).max()) if A.numel() else 0.0
    squarings = max(0, int(np.ceil(np.log2(norm))) + 1) if norm > 0.5 else 0
    x = A / (2 ** squarings)
    eye = TensorBase._make(np.broadcast_to(np.eye(A.shape[-1], dtype=A._array.dtype),
                                       A.shape).copy())
    result, term = eye, eye
    for k in range(1, 13):
        term = term @ x / k
        result = result + term
    for _ in range(squarings):
        result = result @ result
    return result
