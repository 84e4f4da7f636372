"""Tensor's reductions (sum, mean, var, max...), sorting and selection (sort, topk, median,
mode...), cumulative ops and counting."""
import collections
import functools
import warnings

import numpy as np

from cylayers._ops import arith, reduce, scatter as scatter_ops, untaped
from cylayers._stacklevel import user_stacklevel
from cylayers._tensor_base import TensorBase, _norm_dim, unwrap

return_types_max = collections.namedtuple("max", ["values", "indices"])
return_types_min = collections.namedtuple("min", ["values", "indices"])
return_types_cummax = collections.namedtuple("cummax", ["values", "indices"])
return_types_cummin = collections.namedtuple("cummin", ["values", "indices"])
values_indices = {name: collections.namedtuple(name, ["values", "indices"])
                  for name in ("median", "mode", "sort", "topk", "kthvalue", "cummax")}


def _accepts_axis(method):
    """PyTorch accepts numpy's ``axis=`` (and ``keepdims=``) beside ``dim=``/``keepdim=`` in its
    reductions."""
    @functools.wraps(method)
    def wrapper(self, *args, axis=None, keepdims=None, **kwargs):
        if axis is not None:
            if args or "dim" in kwargs:
                raise TypeError(f"{method.__name__}() got multiple values for argument 'dim'")
            kwargs["dim"] = axis
        if keepdims is not None:
            kwargs["keepdim"] = keepdims
        return method(self, *args, **kwargs)
    return wrapper


def _spread(self, op, name, dim, unbiased, keepdim, correction):
    """var / std: PyTorch's argument forms (unbiased positional or keyword, correction) and
    its warning when no degrees of freedom are left."""
    if isinstance(dim, bool):  # var(unbiased) positional form
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    out = op.apply(self, dim, correction, keepdim)
    if out._array.size and self._array.size // out._array.size - correction <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output "
                      "numel).", UserWarning, stacklevel=user_stacklevel())
    return out


def _max_or_min(self, dim, keepdim, use_min):
    if isinstance(dim, TensorBase):  # elementwise max(a, b): torch.maximum's rules
        return arith.Extremum.apply(self, dim, not use_min)
    if dim is None:
        return reduce.MaxAll.apply(self, use_min)
    values = reduce.MaxDim.apply(self, dim, keepdim, use_min)
    indices = values._node.indices if values._node is not None else None
    if indices is None:  # not recorded: recompute cheaply
        d = _norm_dim(dim, self._array.ndim)
        fn = np.argmin if use_min else np.argmax
        indices = fn(self._array, axis=d, keepdims=keepdim).astype(np.int64)
    result_type = return_types_min if use_min else return_types_max
    return result_type(values, TensorBase._make(indices))


def _arg_extreme(self, dim, keepdim, fn):
    if self._array.dtype == np.bool_:
        raise RuntimeError(f"{fn.__name__}(): does not support bool input")
    if dim is None:
        out = TensorBase._make(np.asarray(fn(self._array), dtype=np.int64))
    else:
        d = _norm_dim(dim, self._array.ndim)
        out = TensorBase._make(fn(self._array, axis=d, keepdims=keepdim).astype(np.int64))
    return untaped.note(untaped.ArgExtreme, (self, dim, keepdim, fn.__name__), out)


def _reduce_dims(self, dim):
    return reduce.norm_dims(dim, self._array.ndim)


def _all_or_any(self, dim, keepdim, fn):
    dims = None if dim is None else _reduce_dims(self, dim)
    result = np.asarray(fn(self._array, axis=dims, keepdims=keepdim))
    # PyTorch keeps uint8 for uint8 input (the pre-bool convention); bool otherwise
    return TensorBase._make(result.astype(np.uint8) if self._array.dtype == np.uint8 else result)


def _pick(self, indices, d, keepdim, result_type):
    """(values, indices) where values are self's entries at ``indices`` along dim ``d``."""
    values = reduce.Select.apply(self, indices, d)
    if not keepdim and self._array.ndim:
        values = values.squeeze(d)
        indices = np.squeeze(indices, axis=d)
    return result_type(values, TensorBase._make(np.asarray(indices, dtype=np.int64)))


def _zero_dim_pick(self, name):
    """(values, indices) of a 0-d tensor: itself, at index 0."""
    return values_indices[name](self.clone(), TensorBase._make(np.zeros((), np.int64)))


def _sorted_indices(arr, axis, descending):
    """Stable argsort along ``axis``; NaN counts as the largest value, as in PyTorch."""
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int8)
    if not descending:
        return np.argsort(arr, axis=axis, kind="stable")
    if arr.dtype.kind == "f":
        nan = np.isnan(arr)
        return np.lexsort((np.where(nan, 0, -arr), ~nan), axis=axis)
    return np.lexsort((-arr.astype(np.int64 if arr.dtype.kind in "iu" else arr.dtype),),
                      axis=axis)


def _cum_extremum(self, dim, take_max):
    result = return_types_cummax if take_max else return_types_cummin
    d = _norm_dim(dim, self._array.ndim)
    if self._array.ndim == 0:  # as a 1-element row
        values, indices = _cum_extremum(self.reshape(1), 0, take_max)
        return result(values.reshape(()), indices.reshape(()))
    values = scatter_ops.CumExtremum.apply(self, d, take_max)
    node = values._node
    if node is not None:
        indices = node.indices
    else:  # not recorded (no grad): run the op once more on the array
        ctx = scatter_ops.CumExtremum()
        scatter_ops.CumExtremum.forward(ctx, self._array, d, take_max)
        indices = ctx.indices
    return result(values, TensorBase._make(indices))


def unique_result(values, inverse, counts, return_inverse, return_counts):
    """unique's return: the values alone, or a tuple with the inverse and / or the counts."""
    out = [TensorBase._make(values)]
    if return_inverse:
        out.append(TensorBase._make(inverse.astype(np.int64)))
    if return_counts:
        out.append(TensorBase._make(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


class ReductionMethods:
    __slots__ = ()

    # ------------------------------------------------------------ reductions
    @_accepts_axis
    def sum(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.type(dtype)  # PyTorch sums in the asked dtype
        return reduce.Sum.apply(x, dim, keepdim)

    @_accepts_axis
    def mean(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.type(dtype)
        return reduce.Mean.apply(x, dim, keepdim)

    @_accepts_axis
    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return _spread(self, reduce.Var, "var", dim, unbiased, keepdim, correction)

    @_accepts_axis
    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return _spread(self, reduce.Std, "std", dim, unbiased, keepdim, correction)

    @_accepts_axis
    def std_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return (_spread(self, reduce.Std, "std", dim, unbiased, keepdim, correction),
                self.mean(dim if not isinstance(dim, bool) else None, keepdim))

    @_accepts_axis
    def var_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return (_spread(self, reduce.Var, "var", dim, unbiased, keepdim, correction),
                self.mean(dim if not isinstance(dim, bool) else None, keepdim))

    @_accepts_axis
    def max(self, dim=None, keepdim=False):
        return _max_or_min(self, dim, keepdim, use_min=False)

    @_accepts_axis
    def min(self, dim=None, keepdim=False):
        return _max_or_min(self, dim, keepdim, use_min=True)

    @_accepts_axis
    def argmax(self, dim=None, keepdim=False):
        return _arg_extreme(self, dim, keepdim, np.argmax)

    @_accepts_axis
    def argmin(self, dim=None, keepdim=False):
        return _arg_extreme(self, dim, keepdim, np.argmin)

    @_accepts_axis
    def prod(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.type(dtype)
        d = None if dim is None else _norm_dim(dim, self._array.ndim)
        if not self._array.ndim:
            d = None  # a 0-d tensor's dim 0 is the whole tensor
        return reduce.Prod.apply(x, d, keepdim)

    @_accepts_axis
    def logsumexp(self, dim, keepdim=False):
        x = self if self._array.dtype.kind == "f" else self.float()
        return reduce.LogSumExp.apply(x, _reduce_dims(self, dim), keepdim)

    @_accepts_axis
    def amax(self, dim=(), keepdim=False):
        dims = _reduce_dims(self, None if dim == () or dim == [] else dim)
        return reduce.AmaxAmin.apply(self, dims, keepdim, False)

    @_accepts_axis
    def amin(self, dim=(), keepdim=False):
        dims = _reduce_dims(self, None if dim == () or dim == [] else dim)
        return reduce.AmaxAmin.apply(self, dims, keepdim, True)

    @_accepts_axis
    def all(self, dim=None, keepdim=False):
        return _all_or_any(self, dim, keepdim, np.all)

    @_accepts_axis
    def any(self, dim=None, keepdim=False):
        return _all_or_any(self, dim, keepdim, np.any)

    @_accepts_axis
    def count_nonzero(self, dim=None):
        axis = None if dim is None else _reduce_dims(self, dim)
        counts = np.count_nonzero(self._array, axis=axis)
        return TensorBase._make(np.asarray(counts, dtype=np.int64))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.type(dtype)
        if x._array.dtype.kind != "f":
            raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex "
                               f"tensor as input. Got {x.dtype}")
        if p == "fro" or p is None:
            p = 2
        elif p == "nuc" or isinstance(p, str):
            raise NotImplementedError(f"norm: p={p!r} (matrix norms) is not supported by cylayers; "
                                      "vector p-norms (numbers, inf, 'fro') are")
        dims = _reduce_dims(x, dim)
        if dim is not None and abs(float(p)) == np.inf:
            for d in dims:
                if x._array.shape[d] == 0:
                    raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on the "
                                       f"dimension {d} because this dimension is empty and the "
                                       f"operation does not have an identity")
        return reduce.Norm.apply(x, float(p), dims, keepdim)

    def trace(self):
        if self._array.ndim != 2:
            raise RuntimeError("trace: expected a matrix")
        if self._array.dtype == np.bool_:
            raise NotImplementedError("\"trace\" not implemented for 'Bool'")
        return self.diagonal().sum()

    # ------------------------------------------------------------ sorting and selection
    @_accepts_axis
    def median(self, dim=None, keepdim=False):
        arr = self._array
        if arr.dtype == np.bool_ and (arr.size or dim is not None):
            raise NotImplementedError(f"\"median_{'cpu' if dim is None else 'out'}\" not "
                                      f"implemented for 'Bool'")
        if dim is None:
            flat = arr.reshape(-1)
            if flat.size == 0:  # NaN, or an integer dtype's smallest value, as in PyTorch
                empty = np.nan if arr.dtype.kind == "f" else False if arr.dtype == np.bool_ \
                    else np.iinfo(arr.dtype).min
                return reduce.ValueOfTies.apply(self, np.asarray(empty, dtype=arr.dtype))
            if np.isnan(flat).any():
                return reduce.ValueOfTies.apply(self, np.asarray(np.nan, dtype=arr.dtype))
            # The lower median; its gradient is shared between the entries equal to it (PyTorch).
            value = flat[_sorted_indices(flat, 0, False)[(flat.size - 1) // 2]]
            return reduce.ValueOfTies.apply(self, np.asarray(value))
        d = _norm_dim(dim, arr.ndim)
        order = _sorted_indices(arr, d, False) if arr.ndim else np.zeros((), np.int64)
        if not arr.ndim:
            return _zero_dim_pick(self, "median")
        k = (arr.shape[d] - 1) // 2
        idx = np.take(order, [k], axis=d)
        if arr.dtype.kind == "f":  # a row with NaN has median NaN, at its first NaN
            nan = np.isnan(arr)
            has_nan = nan.any(axis=d, keepdims=True)
            idx = np.where(has_nan, np.argmax(nan, axis=d, keepdims=True), idx)
        return _pick(self, idx, d, keepdim, values_indices["median"])

    def mode(self, dim=-1, keepdim=False):
        arr = self._array
        if arr.ndim == 0:
            return _zero_dim_pick(self, "mode")
        d = _norm_dim(dim, arr.ndim)
        moved = np.moveaxis(arr, d, -1)
        rows = moved.reshape(-1, moved.shape[-1])
        picks = np.empty(rows.shape[0], dtype=np.int64)
        for r, row in enumerate(rows):
            values, counts = np.unique(row, return_counts=True)
            best = values[np.argmax(counts)]  # the smallest of the most frequent values
            picks[r] = np.flatnonzero(row == best)[-1]  # its last occurrence, as PyTorch
        idx = np.expand_dims(picks.reshape(moved.shape[:-1]), -1)
        return _pick(self, np.moveaxis(idx, -1, d), d, keepdim, values_indices["mode"])

    def sort(self, dim=-1, descending=False, stable=False):
        if self._array.ndim == 0:
            return _zero_dim_pick(self, "sort")
        d = _norm_dim(dim, self._array.ndim)
        idx = _sorted_indices(self._array, d, descending)
        return _pick(self, idx, d, True, values_indices["sort"])

    def argsort(self, dim=-1, descending=False, stable=False):
        if self._array.ndim == 0:
            return TensorBase._make(np.zeros((), np.int64))
        return TensorBase._make(_sorted_indices(self._array, _norm_dim(dim, self._array.ndim),
                                            descending).astype(np.int64))

    def msort(self):
        return self.sort(0).values

    def topk(self, k, dim=-1, largest=True, sorted=True):
        arr = self._array
        d = _norm_dim(dim, arr.ndim) if arr.ndim else 0
        size = arr.shape[d] if arr.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError("selected index k out of range")
        if arr.ndim == 0:
            return _zero_dim_pick(self, "topk")
        idx = np.take(_sorted_indices(arr, d, largest), range(k), axis=d)
        return _pick(self, idx, d, True, values_indices["topk"])

    def kthvalue(self, k, dim=-1, keepdim=False):
        arr = self._array
        d = _norm_dim(dim, arr.ndim) if arr.ndim else 0
        if not 1 <= k <= (arr.shape[d] if arr.ndim else 1):
            raise RuntimeError("kthvalue(): selected number k out of range")
        if arr.ndim == 0:
            return _zero_dim_pick(self, "kthvalue")
        idx = np.take(_sorted_indices(arr, d, False), [k - 1], axis=d)
        return _pick(self, idx, d, keepdim, values_indices["kthvalue"])

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values in ascending order (PyTorch sorts on the CPU whatever ``sorted``
        says), with the inverse indices and counts on request."""
        arr = self._array
        if dim is not None:  # distinct slices along dim, in lexicographic order
            d = _norm_dim(dim, arr.ndim)
            values, inverse, counts = np.unique(arr, axis=d, return_inverse=True,
                                                return_counts=True)
            inverse = inverse.reshape(-1)
        else:
            values, inverse, counts = np.unique(arr, return_inverse=True, return_counts=True)
            inverse = inverse.reshape(arr.shape)
        return unique_result(values, inverse, counts, return_inverse, return_counts)

    def bincount(self, weights=None, minlength=0):
        arr = self._array
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        if arr.size and arr.min() < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        w = None if weights is None else np.asarray(unwrap(weights))
        counts = np.bincount(arr, weights=w, minlength=minlength)
        if w is None:
            counts = counts.astype(np.int64)
        elif w.dtype == np.float32:
            counts = counts.astype(np.float32)
        return TensorBase._make(counts)

    # ------------------------------------------------------------ cumulative
    def cumsum(self, dim, dtype=None):
        x = self if dtype is None else self.type(dtype)
        if x._array.ndim == 0:  # as a 1-element row: the same dtype rules (integers -> int64)
            _norm_dim(dim, 0)
            return reduce.CumSum.apply(x.reshape(1), 0).reshape(())
        return reduce.CumSum.apply(x, _norm_dim(dim, x._array.ndim))

    def cumprod(self, dim, dtype=None):
        x = self if dtype is None else self.type(dtype)
        if x._array.ndim == 0:  # as a 1-element row: the same dtype rules (integers -> int64)
            _norm_dim(dim, 0)
            return reduce.CumProd.apply(x.reshape(1), 0).reshape(())
        return reduce.CumProd.apply(x, _norm_dim(dim, x._array.ndim))

    def cummax(self, dim):
        return _cum_extremum(self, dim, take_max=True)

    def cummin(self, dim):
        return _cum_extremum(self, dim, take_max=False)

    def logcumsumexp(self, dim):
        d = _norm_dim(dim, self._array.ndim)
        if self._array.size == 0:
            return self.clone()
        top = self.detach().amax(dim=d, keepdim=True)
        top = top.masked_fill(~top.isfinite(), 0.0)
        return (self - top).exp().cumsum(d).log() + top
