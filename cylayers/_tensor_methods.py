"""Operators and math methods of Tensor, each a thin call into an op of cylayers._ops or of
cylayers.nn.functional (activations run on the Cython kernels)."""
import collections

import numpy as np

from cylayers._tensor import Tensor, _index_arg, _norm_dim, _shape_arg
from cylayers._ops import arith, reduce, shape as shape_ops

return_types_max = collections.namedtuple("max", ["values", "indices"])
return_types_min = collections.namedtuple("min", ["values", "indices"])


def _other(x):
    """Scalars stay Python numbers; arrays and lists become Tensors (no grad)."""
    if isinstance(x, (Tensor, int, float, bool)):
        return x
    if isinstance(x, np.generic):
        return x.item()
    return Tensor._make(np.asarray(x))


def _binary(op, swap=False):
    def method(self, other):
        other = _other(other)
        return op.apply(other, self) if swap else op.apply(self, other)
    return method


Tensor.__add__ = _binary(arith.Add)
Tensor.__radd__ = _binary(arith.Add, swap=True)
Tensor.__sub__ = _binary(arith.Sub)
Tensor.__rsub__ = _binary(arith.Sub, swap=True)
Tensor.__mul__ = _binary(arith.Mul)
Tensor.__rmul__ = _binary(arith.Mul, swap=True)
Tensor.__truediv__ = _binary(arith.Div)
Tensor.__rtruediv__ = _binary(arith.Div, swap=True)
Tensor.__pow__ = _binary(arith.Pow)
Tensor.__rpow__ = _binary(arith.Pow, swap=True)
Tensor.__matmul__ = _binary(arith.MatMul)
Tensor.__rmatmul__ = _binary(arith.MatMul, swap=True)
Tensor.__neg__ = lambda self: arith.Neg.apply(self)
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = lambda self: arith.Abs.apply(self)
Tensor.__iadd__ = lambda self, o: self.add_(_other(o))
Tensor.__isub__ = lambda self, o: self.sub_(_other(o))
Tensor.__imul__ = lambda self, o: self.mul_(_other(o))
Tensor.__itruediv__ = lambda self, o: self.div_(_other(o))

Tensor.add = lambda self, other, alpha=1: self + (other * alpha if alpha != 1 else other)
Tensor.sub = lambda self, other, alpha=1: self - (other * alpha if alpha != 1 else other)
Tensor.mul = lambda self, other: self * other
Tensor.div = lambda self, other: self / other
Tensor.pow = lambda self, other: self ** other
Tensor.matmul = lambda self, other: self @ other
Tensor.mm = lambda self, other: self @ other
Tensor.neg = lambda self: -self


def _floordiv(self, other):
    return Tensor._make(np.floor_divide(self._array, _raw(other)))


def _mod(self, other):
    return Tensor._make(np.remainder(self._array, _raw(other)))


Tensor.__floordiv__ = _floordiv
Tensor.__mod__ = _mod


def _raw(x):
    return x._array if isinstance(x, Tensor) else x


def _compare(ufunc):
    def method(self, other):
        return Tensor._make(ufunc(self._array, _raw(_other(other))))
    return method


Tensor.__eq__ = _compare(np.equal)
Tensor.__ne__ = _compare(np.not_equal)
Tensor.__lt__ = _compare(np.less)
Tensor.__le__ = _compare(np.less_equal)
Tensor.__gt__ = _compare(np.greater)
Tensor.__ge__ = _compare(np.greater_equal)
Tensor.eq, Tensor.ne = Tensor.__eq__, Tensor.__ne__
Tensor.lt, Tensor.le, Tensor.gt, Tensor.ge = (Tensor.__lt__, Tensor.__le__, Tensor.__gt__,
                                              Tensor.__ge__)
Tensor.__and__ = _compare(np.logical_and)
Tensor.__or__ = _compare(np.logical_or)
Tensor.__invert__ = lambda self: Tensor._make(np.logical_not(self._array) if self._array.dtype == bool
                                              else np.invert(self._array))


def _equal(self, other):
    return bool(self._array.shape == other._array.shape and np.array_equal(self._array, other._array))


Tensor.equal = _equal
Tensor.allclose = lambda self, other, rtol=1e-5, atol=1e-8, equal_nan=False: bool(
    np.allclose(self._array, _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))
Tensor.isnan = lambda self: Tensor._make(np.isnan(self._array))
Tensor.isfinite = lambda self: Tensor._make(np.isfinite(self._array))
Tensor.all = lambda self, dim=None: Tensor._make(np.asarray(np.all(self._array, axis=dim)))
Tensor.any = lambda self, dim=None: Tensor._make(np.asarray(np.any(self._array, axis=dim)))

# -------------------------------------------------------------------- math
Tensor.exp = lambda self: arith.Exp.apply(self)
Tensor.log = lambda self: arith.Log.apply(self)
Tensor.sqrt = lambda self: arith.Sqrt.apply(self)
Tensor.rsqrt = lambda self: 1.0 / arith.Sqrt.apply(self)
Tensor.abs = lambda self: arith.Abs.apply(self)
Tensor.square = lambda self: arith.Mul.apply(self, self)
Tensor.sign = lambda self: Tensor._make(np.sign(self._array))


def _clamp(self, min=None, max=None):
    return arith.Clamp.apply(self, _raw(min), _raw(max))


Tensor.clamp = _clamp
Tensor.clip = _clamp
Tensor.clamp_min = lambda self, min: _clamp(self, min, None)
Tensor.clamp_max = lambda self, max: _clamp(self, None, max)

# -------------------------------------------------------------------- reductions


def _sum(self, dim=None, keepdim=False, dtype=None):
    out = reduce.Sum.apply(self, dim, keepdim)
    return out if dtype is None else out.type(dtype)


def _mean(self, dim=None, keepdim=False, dtype=None):
    x = self if dtype is None else self.type(dtype)
    return reduce.Mean.apply(x, dim, keepdim)


def _var(self, dim=None, unbiased=None, keepdim=False, correction=None):
    if isinstance(dim, bool):  # var(unbiased) positional form
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return reduce.Var.apply(self, dim, correction, keepdim)


def _std(self, dim=None, unbiased=None, keepdim=False, correction=None):
    return _var(self, dim, unbiased, keepdim, correction).sqrt()


def _max_or_min(use_min):
    result_type = return_types_min if use_min else return_types_max

    def method(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):  # elementwise max(a, b)
            other = dim
            cond = (self._array <= other._array) if use_min else (self._array >= other._array)
            return arith.Where.apply(cond, self, other)
        if dim is None:
            return reduce.MaxAll.apply(self, use_min)
        values = reduce.MaxDim.apply(self, dim, keepdim, use_min)
        indices = values._node.indices if values._node is not None else None
        if indices is None:  # not recorded: recompute cheaply
            d = _norm_dim(dim, self._array.ndim)
            fn = np.argmin if use_min else np.argmax
            indices = fn(self._array, axis=d, keepdims=keepdim).astype(np.int64)
        return result_type(values, Tensor._make(indices))
    return method


def _arg(fn):
    def method(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._make(np.asarray(fn(self._array), dtype=np.int64))
        d = _norm_dim(dim, self._array.ndim)
        return Tensor._make(fn(self._array, axis=d, keepdims=keepdim).astype(np.int64))
    return method


Tensor.sum = _sum
Tensor.mean = _mean
Tensor.var = _var
Tensor.std = _std
Tensor.max = _max_or_min(False)
Tensor.min = _max_or_min(True)
Tensor.argmax = _arg(np.argmax)
Tensor.argmin = _arg(np.argmin)
Tensor.prod = lambda self, dim=None, keepdim=False: Tensor._make(
    np.asarray(np.prod(self._array, axis=dim, keepdims=keepdim)))

# -------------------------------------------------------------------- shape


def _resolve_shape(numel, shape):
    shape = list(shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        i = shape.index(-1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[i] = numel // known
    total = 1
    for s in shape:
        if s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        total *= s
    if total != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _view(self, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        return self.type(shape[0])  # view(dtype)
    shape = _resolve_shape(self._array.size, _shape_arg(shape))
    return shape_ops.Reshape.apply(self, shape, True)


def _reshape(self, *shape):
    shape = _resolve_shape(self._array.size, _shape_arg(shape))
    return shape_ops.Reshape.apply(self, shape, False)


def _flatten(self, start_dim=0, end_dim=-1):
    nd = self._array.ndim
    if nd == 0:
        return _reshape(self, 1)
    s, e = _norm_dim(start_dim, nd), _norm_dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = self._array.shape
    mid = 1
    for d in shp[s:e + 1]:
        mid *= d
    return _reshape(self, shp[:s] + (mid,) + shp[e + 1:])


def _unflatten(self, dim, sizes):
    d = _norm_dim(dim, self._array.ndim)
    shp = self._array.shape
    sizes = list(sizes)
    if -1 in sizes:
        known = int(np.prod([s for s in sizes if s != -1]))
        sizes[sizes.index(-1)] = shp[d] // known if known else 0
    if int(np.prod(sizes)) != shp[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({shp[d]}) in the input tensor")
    return _reshape(self, shp[:d] + tuple(sizes) + shp[d + 1:])


def _squeeze(self, dim=None):
    shp = self._array.shape
    if dim is None:
        new = tuple(s for s in shp if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {_norm_dim(d, len(shp)) for d in dims} if shp else set()
        new = tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1))
    return shape_ops.Reshape.apply(self, new, False)


def _unsqueeze(self, dim):
    nd = self._array.ndim + 1
    d = _norm_dim(dim, nd)
    shp = self._array.shape
    return shape_ops.Reshape.apply(self, shp[:d] + (1,) + shp[d:], False)


def _permute(self, *dims):
    dims = _shape_arg(dims)
    nd = self._array.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(_norm_dim(d, nd) for d in dims)
    if sorted(dims) != list(range(nd)):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return shape_ops.Permute.apply(self, dims)


def _transpose(self, dim0, dim1):
    nd = self._array.ndim
    if nd == 0:
        return self
    d0, d1 = _norm_dim(dim0, nd), _norm_dim(dim1, nd)
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return shape_ops.Permute.apply(self, tuple(dims))


def _T(self):
    return shape_ops.Permute.apply(self, tuple(reversed(range(self._array.ndim))))


def _expand(self, *sizes):
    sizes = list(_shape_arg(sizes))
    shp = self._array.shape
    offset = len(sizes) - len(shp)
    if offset < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(shp)})")
    for i in range(len(shp)):
        if sizes[offset + i] == -1:
            sizes[offset + i] = shp[i]
    try:
        return shape_ops.Expand.apply(self, tuple(sizes))
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor must match the existing size at "
                           f"non-singleton dimensions: {list(sizes)} vs {list(shp)}") from None


def _getitem(self, index):
    return shape_ops.GetItem.apply(self, _index_arg(index))


Tensor.view = _view
Tensor.reshape = _reshape
Tensor.view_as = lambda self, other: _view(self, other.shape)
Tensor.reshape_as = lambda self, other: _reshape(self, other.shape)
Tensor.flatten = _flatten
Tensor.unflatten = _unflatten
Tensor.squeeze = _squeeze
Tensor.unsqueeze = _unsqueeze
Tensor.permute = _permute
Tensor.transpose = _transpose
Tensor.t = lambda self: _transpose(self, 0, 1) if self._array.ndim == 2 else self
Tensor.T = property(_T)
Tensor.mT = property(lambda self: _transpose(self, -2, -1))
Tensor.expand = _expand
Tensor.expand_as = lambda self, other: _expand(self, other.shape)
Tensor.__getitem__ = _getitem


# -------------------------------------------------------------------- activations (kernels)
def _nnf():
    from cylayers.nn import functional
    return functional


Tensor.relu = lambda self: _nnf().relu(self)
Tensor.relu_ = lambda self: _nnf().relu(self, inplace=True)
Tensor.sigmoid = lambda self: _nnf().sigmoid(self)
Tensor.sigmoid_ = lambda self: _nnf().sigmoid(self, inplace=True)
Tensor.tanh = lambda self: _nnf().tanh(self)
Tensor.tanh_ = lambda self: _nnf().tanh(self, inplace=True)
Tensor.softmax = lambda self, dim, dtype=None: _nnf().softmax(self, dim, dtype=dtype)
Tensor.log_softmax = lambda self, dim, dtype=None: _nnf().log_softmax(self, dim, dtype=dtype)
