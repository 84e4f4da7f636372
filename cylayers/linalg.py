"""torch.linalg norms: vector norms of any order, and the matrix norms that need no SVD
('fro', 1, -1, inf, -inf), composed from differentiable tensor ops."""
import math

import numpy as np

from cylayers import _dtype
from cylayers._tensor import Tensor, _norm_dim

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
    if ord in _SVD_ORDERS:
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs singular values, "
                                  "which cylayers does not compute")
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
    if not isinstance(A, Tensor):
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
