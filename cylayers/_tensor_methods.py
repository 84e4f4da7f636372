"""Operators and math methods of Tensor, each a thin call into an op of cylayers._ops
(activations run on the Cython kernels)."""
import collections
import warnings

import numpy as np

from cylayers import _dtype
from cylayers._stacklevel import user_stacklevel
from cylayers._tensor import (Tensor, _index_arg, _norm_dim, _shape_arg, _traced_sizes,
                              trace_state, unwrap)
from cylayers._tensor_types import legacy_to_numpy, legacy_type_name, scalar_type_name
from cylayers._ops import (activation, arith, indexing, pointwise, promotion, reduce,
                           scatter as scatter_ops, shape as shape_ops, untaped)
from cylayers.autograd.api import backward as _run_backward
from cylayers.autograd.function import broadcast_error
from cylayers.autograd.grad_mode import enable_grad
from cylayers.random import get_generator
from cylayers.utils.hooks import RemovableHandle

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


def _tensor_only(method, name):
    """PyTorch's signature for ops whose other operand must be a Tensor (atan2, maximum,
    logaddexp, logical_and...): a Python number is a TypeError, not broadcast."""
    def checked(self, other):
        if not isinstance(other, Tensor):
            raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return method(self, other)
    checked.__name__ = name
    return checked


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
Tensor.__iadd__ = lambda self, o: self.add_(_other(o))
Tensor.__isub__ = lambda self, o: self.sub_(_other(o))
Tensor.__imul__ = lambda self, o: self.mul_(_other(o))
Tensor.__itruediv__ = lambda self, o: self.div_(_other(o))

Tensor.add = lambda self, other, alpha=1: self + (other * alpha if alpha != 1 else other)
Tensor.sub = lambda self, other, alpha=1: self - (other * alpha if alpha != 1 else other)
Tensor.mul = lambda self, other: self * other
Tensor.pow = lambda self, other: self ** other
Tensor.matmul = lambda self, other: self @ other
Tensor.mm = lambda self, other: self @ other
Tensor.neg = lambda self: -self


Tensor.__floordiv__ = lambda self, other: arith.RoundedDiv.apply(self, _other(other), "floor")
Tensor.__rfloordiv__ = lambda self, other: arith.RoundedDiv.apply(_other(other), self, "floor")


def _compare(ufunc):
    def method(self, other):
        other = _other(other)
        try:
            result = ufunc(*promotion.promote(self._array, unwrap(other)))
        except ValueError as e:
            raise broadcast_error(e, (self._array, unwrap(other))) from None
        return untaped.note(untaped.Elementwise, (self, other, ufunc.__name__),
                            Tensor._make(result))
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
_TORCH_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double"}


def _bitwise(ufunc, name, swap=False):
    """Bitwise ops of integer and bool tensors (logical for bools), in the promoted dtype."""
    def method(self, other):
        a, b = promotion.promote(self._array, unwrap(_other(other)))
        if swap:
            a, b = b, a
        for x in (a, b):
            kind = x.dtype.kind if isinstance(x, np.ndarray) else \
                "f" if isinstance(x, float) else "i"
            if kind not in "biu":
                dt = x.dtype if isinstance(x, np.ndarray) else np.dtype(np.float32)
                raise RuntimeError(f'"{name}_cpu" not implemented for '
                                   f"'{_TORCH_TYPE_NAMES.get(dt.name, dt.name)}'")
        out = Tensor._make(np.asarray(ufunc(a, b)))
        return untaped.note(untaped.Elementwise,
                            (other, self, ufunc.__name__) if swap else (self, other,
                                                                        ufunc.__name__), out)
    return method


Tensor.__and__ = Tensor.bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
Tensor.__or__ = Tensor.bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
Tensor.__xor__ = Tensor.bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
Tensor.__rand__ = _bitwise(np.bitwise_and, "bitwise_and", swap=True)
Tensor.__ror__ = _bitwise(np.bitwise_or, "bitwise_or", swap=True)
Tensor.__rxor__ = _bitwise(np.bitwise_xor, "bitwise_xor", swap=True)
Tensor.__lshift__ = Tensor.bitwise_left_shift = _bitwise(np.left_shift, "lshift")
Tensor.__rshift__ = Tensor.bitwise_right_shift = _bitwise(np.right_shift, "rshift")
Tensor.__rlshift__ = _bitwise(np.left_shift, "lshift", swap=True)
Tensor.__rrshift__ = _bitwise(np.right_shift, "rshift", swap=True)


def _invert(self):
    if self._array.dtype.kind not in "biu":
        raise RuntimeError(f"\"bitwise_not_cpu\" not implemented for "
                           f"'{_TORCH_TYPE_NAMES.get(self._array.dtype.name)}'")
    if self._array.dtype == bool:
        return Tensor.logical_not(self)
    return Tensor._make(np.logical_not(self._array) if self._array.dtype == bool
                        else np.invert(self._array))


Tensor.__invert__ = Tensor.bitwise_not = _invert


def _equal(self, other):
    return bool(self._array.shape == other._array.shape
                and np.array_equal(self._array, other._array))


Tensor.equal = _equal
Tensor.allclose = lambda self, other, rtol=1e-5, atol=1e-8, equal_nan=False: bool(
    np.allclose(self._array, unwrap(other), rtol=rtol, atol=atol, equal_nan=equal_nan))
Tensor.isnan = lambda self: Tensor._make(np.isnan(self._array))
Tensor.isinf = lambda self: Tensor._make(np.isinf(self._array))
Tensor.isposinf = lambda self: Tensor._make(np.isposinf(self._array))
Tensor.isneginf = lambda self: Tensor._make(np.isneginf(self._array))
Tensor.isfinite = lambda self: Tensor._make(np.isfinite(self._array))
Tensor.isreal = lambda self: Tensor._make(np.isreal(self._array))


Tensor.logical_and = _tensor_only(_compare(np.logical_and), "logical_and")
Tensor.logical_or = _tensor_only(_compare(np.logical_or), "logical_or")
Tensor.logical_xor = _tensor_only(_compare(np.logical_xor), "logical_xor")
Tensor.logical_not = lambda self: untaped.note(untaped.Elementwise, (self, None, "logical_not"),
                                              Tensor._make(np.logical_not(self._array)))
Tensor.greater, Tensor.greater_equal = Tensor.gt, Tensor.ge
Tensor.less, Tensor.less_equal, Tensor.not_equal = Tensor.lt, Tensor.le, Tensor.ne


# -------------------------------------------------------------------- autograd, casts, in place
def _refresh_view(self):
    """Rebuild a view's node from its base's current one after an in-place change of their
    shared storage, so gradients flow through that change (PyTorch rebases views the same
    way); a no-op while the version is unchanged."""
    if self._base is None or self._view_version == self._vc[0]:
        return
    t = self._base
    with enable_grad():  # the view's history exists whatever the current mode
        for view_fn, view_args in self._view_chain:
            t = view_fn.apply(t, *view_args)
    self._node = t._node
    self._requires_grad = t._requires_grad
    self._view_version = self._vc[0]


def _backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    _run_backward(self, gradient, retain_graph, create_graph, inputs)


def _register_hook(self, hook):
    """Call ``hook(grad)`` with this tensor's gradient during backward; a returned tensor
    replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node = self._node
    if node is None:
        if self._hooks is None:
            self._hooks = {}
        hooks = self._hooks
    else:
        if node.tensor_hooks is None:
            node.tensor_hooks = {}
        hooks = node.tensor_hooks
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _type(self, dtype=None, non_blocking=False):
    """``x.type()`` names the legacy type ('cylayers.FloatTensor'); ``x.type(t)`` casts to
    a dtype, a legacy type (cylayers.FloatTensor) or its name (also 'torch.FloatTensor')."""
    if dtype is None:
        return "cylayers." + legacy_type_name(self._array.dtype)
    np_dtype = legacy_to_numpy(dtype)
    if np_dtype == self._array.dtype:
        return self
    return shape_ops.Cast.apply(self, np_dtype)


def _fill_(self, value):
    return shape_ops.Fill.apply_inplace(self, value.item() if isinstance(value, Tensor) else value)


def _copy_(self, src):
    if not isinstance(src, Tensor):
        src = Tensor._make(np.asarray(src))
    return shape_ops.CopyInto.apply_inplace(self, src)


def _scaled_inplace(op):
    def method(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return op.apply_inplace(self, other)
    return method


def _setitem(self, index, value):
    index = _index_arg(index)
    if isinstance(value, Tensor) and value._array.ndim and \
            value._array.dtype != self._array.dtype and any(
            isinstance(i, (np.ndarray, list)) for i in (index if isinstance(index, tuple)
                                                        else (index,))):
        # PyTorch's index_put (an index tensor or mask) takes no dtype conversion
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{scalar_type_name(self._array.dtype)} for the destination and "
                           f"{scalar_type_name(value._array.dtype)} for the source.")
    shape_ops.SetItem.apply_inplace(self, index,
                                    value if isinstance(value, Tensor) else np.asarray(value))


def _fill_random(self, values):
    """Write freshly drawn values in place, outside the graph (as nn.init's fills do)."""
    self._array[...] = values
    self._bump_version()
    return self


Tensor._refresh_view = _refresh_view
Tensor.backward = _backward
Tensor.register_hook = _register_hook
Tensor.type = _type
Tensor.clone = lambda self: shape_ops.Clone.apply(self)
Tensor.zero_ = lambda self: self.fill_(0)
Tensor.fill_ = _fill_
Tensor.copy_ = _copy_
Tensor.add_ = _scaled_inplace(arith.Add)
Tensor.sub_ = _scaled_inplace(arith.Sub)
Tensor.mul_ = lambda self, other: arith.Mul.apply_inplace(self, other)
Tensor.div_ = lambda self, other: arith.Div.apply_inplace(self, other)
Tensor.clamp_ = lambda self, min=None, max=None: arith.Clamp.apply_inplace(self, min, max)
Tensor.uniform_ = lambda self, a=0.0, b=1.0, *, generator=None: _fill_random(
    self, get_generator(generator).uniform(a, b, size=self._array.shape))
Tensor.normal_ = lambda self, mean=0.0, std=1.0, *, generator=None: _fill_random(
    self, get_generator(generator).normal(mean, std, size=self._array.shape))
Tensor.__setitem__ = _setitem


# -------------------------------------------------------------------- elementwise math
def _unary(name):
    def method(self):
        return pointwise.Unary.apply(self, name)

    def method_(self):
        return pointwise.Unary.apply_inplace(self, name)
    method.__name__, method_.__name__ = name, name + "_"
    return method, method_


for _name in pointwise.UNARY:
    _out_of_place, _in_place = _unary(_name)
    setattr(Tensor, _name, _out_of_place)
    setattr(Tensor, _name + "_", _in_place)
for _alias, _name in (("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"),
                      ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh"),
                      ("absolute", "abs"), ("fix", "trunc")):
    setattr(Tensor, _alias, getattr(Tensor, _name))
    setattr(Tensor, _alias + "_", getattr(Tensor, _name + "_"))
Tensor.__abs__ = Tensor.abs


def _round(self, decimals=0):
    if decimals == 0:
        return pointwise.Unary.apply(self, "round")
    scale = 10.0 ** decimals  # PyTorch's definition: round(x * 10^d) / 10^d
    return pointwise.Unary.apply(self * scale, "round") / scale


Tensor.round = _round
Tensor.round_ = lambda self, decimals=0: (pointwise.Unary.apply_inplace(self, "round")
                                          if decimals == 0 else self.copy_(_round(self, decimals)))
Tensor.neg_ = lambda self: arith.Neg.apply_inplace(self)
Tensor.negative, Tensor.negative_ = Tensor.neg, Tensor.neg_


def _nan_to_num(self, nan=0.0, posinf=None, neginf=None):
    return pointwise.NanToNum.apply(self, nan, posinf, neginf)


Tensor.nan_to_num = _nan_to_num
Tensor.nan_to_num_ = lambda self, nan=0.0, posinf=None, neginf=None: \
    pointwise.NanToNum.apply_inplace(self, nan, posinf, neginf)


def _binary_math(op):
    def method(self, other):
        return op.apply(self, _other(other))

    def method_(self, other):
        return op.apply_inplace(self, _other(other))
    return method, method_


Tensor.atan2, Tensor.atan2_ = (_tensor_only(m, n) for m, n in zip(
    _binary_math(pointwise.Atan2), ("atan2", "atan2_")))
Tensor.arctan2, Tensor.arctan2_ = Tensor.atan2, Tensor.atan2_
Tensor.fmod, Tensor.fmod_ = _binary_math(pointwise.Fmod)
Tensor.remainder, Tensor.remainder_ = _binary_math(pointwise.Remainder)
Tensor.logaddexp = _tensor_only(_binary_math(pointwise.LogAddExp)[0], "logaddexp")
Tensor.xlogy = _binary_math(pointwise.XLogY)[0]
Tensor.__mod__ = Tensor.remainder


def _rmod(self, other):
    return pointwise.Remainder.apply(_other(other), self)


Tensor.__rmod__ = _rmod
Tensor.pow_ = lambda self, exponent: arith.Pow.apply_inplace(self, _other(exponent))
Tensor.__ipow__ = Tensor.pow_


def _lerp(self, end, weight):
    return pointwise.Lerp.apply(self, _other(end), _other(weight))


Tensor.lerp = _lerp
Tensor.lerp_ = lambda self, end, weight: pointwise.Lerp.apply_inplace(self, _other(end),
                                                                      _other(weight))


def _format(self, spec):
    # PyTorch formats a 0-d tensor as its number; anything else only with an empty spec.
    if self._array.ndim == 0:
        return format(self.item(), spec)
    if spec:
        raise TypeError("unsupported format string passed to Tensor.__format__")
    return str(self)


Tensor.__format__ = _format


def _clamp(self, min=None, max=None):
    return arith.Clamp.apply(self, unwrap(min), unwrap(max))


Tensor.clamp = _clamp
Tensor.maximum = _tensor_only(lambda self, other: arith.Extremum.apply(self, other, True),
                              "maximum")
Tensor.minimum = _tensor_only(lambda self, other: arith.Extremum.apply(self, other, False),
                              "minimum")
Tensor.clip = _clamp
Tensor.clamp_min = lambda self, min: _clamp(self, min, None)
Tensor.clamp_max = lambda self, max: _clamp(self, None, max)

# -------------------------------------------------------------------- reductions


def _sum(self, dim=None, keepdim=False, dtype=None):
    x = self if dtype is None else self.type(dtype)  # PyTorch sums in the asked dtype
    return reduce.Sum.apply(x, dim, keepdim)


def _mean(self, dim=None, keepdim=False, dtype=None):
    x = self if dtype is None else self.type(dtype)
    return reduce.Mean.apply(x, dim, keepdim)


def _spread(op, name):
    """var / std: PyTorch's argument forms (unbiased positional or keyword, correction) and
    its warning when no degrees of freedom are left."""
    def method(self, dim=None, unbiased=None, keepdim=False, correction=None):
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
    return method


_var = _spread(reduce.Var, "var")
_std = _spread(reduce.Std, "std")


def _max_or_min(use_min):
    result_type = return_types_min if use_min else return_types_max

    def method(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):  # elementwise max(a, b): torch.maximum's rules
            return arith.Extremum.apply(self, dim, not use_min)
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
        if self._array.dtype == np.bool_:
            raise RuntimeError(f"{fn.__name__}(): does not support bool input")
        if dim is None:
            out = Tensor._make(np.asarray(fn(self._array), dtype=np.int64))
        else:
            d = _norm_dim(dim, self._array.ndim)
            out = Tensor._make(fn(self._array, axis=d, keepdims=keepdim).astype(np.int64))
        return untaped.note(untaped.ArgExtreme, (self, dim, keepdim, fn.__name__), out)
    return method


Tensor.sum = _sum
Tensor.mean = _mean
Tensor.var = _var
Tensor.std = _std
Tensor.max = _max_or_min(False)
Tensor.min = _max_or_min(True)
Tensor.argmax = _arg(np.argmax)
Tensor.argmin = _arg(np.argmin)


def _prod(self, dim=None, keepdim=False, dtype=None):
    x = self if dtype is None else self.type(dtype)
    d = None if dim is None else _norm_dim(dim, self._array.ndim)
    if not self._array.ndim:
        d = None  # a 0-d tensor's dim 0 is the whole tensor
    return reduce.Prod.apply(x, d, keepdim)


def _reduce_dims(self, dim):
    return reduce.norm_dims(dim, self._array.ndim)


def _logsumexp(self, dim, keepdim=False):
    x = self if self._array.dtype.kind == "f" else self.float()
    return reduce.LogSumExp.apply(x, _reduce_dims(self, dim), keepdim)


def _amax_or_amin(use_min):
    def method(self, dim=(), keepdim=False):
        dims = _reduce_dims(self, None if dim == () or dim == [] else dim)
        return reduce.AmaxAmin.apply(self, dims, keepdim, use_min)
    return method


def _all_or_any(fn):
    def method(self, dim=None, keepdim=False):
        dims = None if dim is None else _reduce_dims(self, dim)
        result = np.asarray(fn(self._array, axis=dims, keepdims=keepdim))
        # PyTorch keeps uint8 for uint8 input (the pre-bool convention); bool otherwise
        return Tensor._make(result.astype(np.uint8) if self._array.dtype == np.uint8 else result)
    return method


values_indices = {name: collections.namedtuple(name, ["values", "indices"])
                  for name in ("median", "mode", "sort", "topk", "kthvalue", "cummax")}


def _pick(self, indices, d, keepdim, result_type):
    """(values, indices) where values are self's entries at ``indices`` along dim ``d``."""
    values = reduce.Select.apply(self, indices, d)
    if not keepdim and self._array.ndim:
        values = values.squeeze(d)
        indices = np.squeeze(indices, axis=d)
    return result_type(values, Tensor._make(np.asarray(indices, dtype=np.int64)))


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


def _median(self, dim=None, keepdim=False):
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
        return values_indices["median"](self.clone(), Tensor._make(np.zeros((), np.int64)))
    k = (arr.shape[d] - 1) // 2
    idx = np.take(order, [k], axis=d)
    if arr.dtype.kind == "f":  # a row with NaN has median NaN, at its first NaN
        nan = np.isnan(arr)
        has_nan = nan.any(axis=d, keepdims=True)
        idx = np.where(has_nan, np.argmax(nan, axis=d, keepdims=True), idx)
    return _pick(self, idx, d, keepdim, values_indices["median"])


def _mode(self, dim=-1, keepdim=False):
    arr = self._array
    if arr.ndim == 0:
        return values_indices["mode"](self.clone(), Tensor._make(np.zeros((), np.int64)))
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


def _sort(self, dim=-1, descending=False, stable=False):
    if self._array.ndim == 0:
        return values_indices["sort"](self.clone(), Tensor._make(np.zeros((), np.int64)))
    d = _norm_dim(dim, self._array.ndim)
    idx = _sorted_indices(self._array, d, descending)
    return _pick(self, idx, d, True, values_indices["sort"])


def _argsort(self, dim=-1, descending=False, stable=False):
    if self._array.ndim == 0:
        return Tensor._make(np.zeros((), np.int64))
    return Tensor._make(_sorted_indices(self._array, _norm_dim(dim, self._array.ndim),
                                        descending).astype(np.int64))


def _topk(self, k, dim=-1, largest=True, sorted=True):
    arr = self._array
    d = _norm_dim(dim, arr.ndim) if arr.ndim else 0
    size = arr.shape[d] if arr.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    if arr.ndim == 0:
        return values_indices["topk"](self.clone(), Tensor._make(np.zeros((), np.int64)))
    idx = np.take(_sorted_indices(arr, d, largest), range(k), axis=d)
    return _pick(self, idx, d, True, values_indices["topk"])


def _kthvalue(self, k, dim=-1, keepdim=False):
    arr = self._array
    d = _norm_dim(dim, arr.ndim) if arr.ndim else 0
    if not 1 <= k <= (arr.shape[d] if arr.ndim else 1):
        raise RuntimeError("kthvalue(): selected number k out of range")
    if arr.ndim == 0:
        return values_indices["kthvalue"](self.clone(), Tensor._make(np.zeros((), np.int64)))
    idx = np.take(_sorted_indices(arr, d, False), [k - 1], axis=d)
    return _pick(self, idx, d, keepdim, values_indices["kthvalue"])


def _cumsum(self, dim, dtype=None):
    x = self if dtype is None else self.type(dtype)
    if x._array.ndim == 0:  # as a 1-element row: the same dtype rules (integers -> int64)
        _norm_dim(dim, 0)
        return reduce.CumSum.apply(x.reshape(1), 0).reshape(())
    return reduce.CumSum.apply(x, _norm_dim(dim, x._array.ndim))


def _cumprod(self, dim, dtype=None):
    x = self if dtype is None else self.type(dtype)
    if x._array.ndim == 0:  # as a 1-element row: the same dtype rules (integers -> int64)
        _norm_dim(dim, 0)
        return reduce.CumProd.apply(x.reshape(1), 0).reshape(())
    return reduce.CumProd.apply(x, _norm_dim(dim, x._array.ndim))


def _norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    x = self if dtype is None else self.type(dtype)
    if x._array.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {x.dtype}")
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


Tensor.prod = _prod
Tensor.logsumexp = _logsumexp
Tensor.amax = _amax_or_amin(False)
Tensor.amin = _amax_or_amin(True)
Tensor.all = _all_or_any(np.all)
Tensor.any = _all_or_any(np.any)
Tensor.median = _median
Tensor.mode = _mode
Tensor.sort = _sort
Tensor.argsort = _argsort
Tensor.msort = lambda self: _sort(self, 0).values
Tensor.topk = _topk
Tensor.kthvalue = _kthvalue
Tensor.cumsum = _cumsum
Tensor.cumprod = _cumprod
Tensor.norm = _norm

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


def _view_as_dtype(self, dt):
    """view(dtype): the same bytes read as another dtype, as in PyTorch (no conversion); the
    last dimension scales with the item sizes."""
    target = _dtype.to_numpy_dtype(dt)
    arr = self._array
    if target == arr.dtype:
        return shape_ops.Reshape.apply(self, arr.shape, True)
    if arr.ndim == 0 and target.itemsize != arr.dtype.itemsize:
        raise RuntimeError("self.dim() cannot be 0 to view "
                           f"{self.dtype} as {_dtype.to_cylayers_dtype(target)} (different "
                           "element sizes)")
    if arr.ndim and arr.strides[-1] != arr.dtype.itemsize and arr.shape[-1] > 1:
        raise RuntimeError("self.stride(-1) must be 1 to view "
                           f"{self.dtype} as {_dtype.to_cylayers_dtype(target)} (different "
                           "element sizes)")
    try:
        out = Tensor._make(arr.view(target))
    except ValueError as e:
        raise RuntimeError(f"view({_dtype.to_cylayers_dtype(target)}): {e}") from None
    out._vc = self._vc  # the same storage: in-place edits through either are seen
    return out


def _apply_reshape(self, shape, must_view, spec):
    """Reshape.apply; while an exporter traces, it also notes the shape as it was asked for
    (``spec()``: sizes read from tensors as TracedInts, -1, constants), so the exported Reshape
    keeps a size taken from a dynamic axis dynamic and a constant constant."""
    out = shape_ops.Reshape.apply(self, shape, must_view)
    if trace_state.active is not None:
        untaped.annotate(out, spec=tuple(spec()))
    return out


def _shape_spec(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
        else tuple(shape)


def _view(self, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        return _view_as_dtype(self, shape[0])
    resolved = _resolve_shape(self._array.size, _shape_arg(shape))
    return _apply_reshape(self, resolved, True, lambda: _shape_spec(shape))


def _reshape(self, *shape):
    resolved = _resolve_shape(self._array.size, _shape_arg(shape))
    return _apply_reshape(self, resolved, False, lambda: _shape_spec(shape))


def _flatten(self, start_dim=0, end_dim=-1):
    nd = self._array.ndim
    if nd == 0:
        _norm_dim(start_dim, nd), _norm_dim(end_dim, nd)
        return _reshape(self, 1)
    s, e = _norm_dim(start_dim, nd), _norm_dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = self._array.shape
    mid = 1
    for d in shp[s:e + 1]:
        mid *= d
    return _apply_reshape(self, shp[:s] + (mid,) + shp[e + 1:], False, lambda: (
        _traced_sizes(self)[:s] + (mid if mid == 0 else -1,) + _traced_sizes(self)[e + 1:]))


def _unflatten(self, dim, sizes):
    d = _norm_dim(dim, self._array.ndim)
    shp = self._array.shape
    asked = tuple(sizes)
    sizes = list(sizes)
    if -1 in sizes:
        known = int(np.prod([s for s in sizes if s != -1]))
        sizes[sizes.index(-1)] = shp[d] // known if known else 0
    if int(np.prod(sizes)) != shp[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({shp[d]}) in the input tensor")
    return _apply_reshape(self, shp[:d] + tuple(int(n) for n in sizes) + shp[d + 1:], False,
                          lambda: _traced_sizes(self)[:d] + asked + _traced_sizes(self)[d + 1:])


def _squeeze(self, dim=None):
    shp = self._array.shape
    if dim is None:
        kept = [i for i, s in enumerate(shp) if s != 1]
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {_norm_dim(d, len(shp)) for d in dims} if shp else set()
        kept = [i for i, s in enumerate(shp) if not (i in dims and s == 1)]
    return _apply_reshape(self, tuple(shp[i] for i in kept), False,
                          lambda: [_traced_sizes(self)[i] for i in kept])


def _unsqueeze(self, dim):
    nd = self._array.ndim + 1
    d = _norm_dim(dim, nd)
    shp = self._array.shape
    return _apply_reshape(self, shp[:d] + (1,) + shp[d:], False,
                          lambda: _traced_sizes(self)[:d] + (1,) + _traced_sizes(self)[d:])


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
    asked = _shape_spec(sizes)
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
        return untaped.annotate(shape_ops.Expand.apply(self, tuple(sizes)), spec=asked)
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
def _t(self):
    if self._array.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{self._array.ndim}D")
    return _transpose(self, 0, 1) if self._array.ndim == 2 else self


Tensor.t = _t
Tensor.T = property(_T)
Tensor.mT = property(lambda self: _transpose(self, -2, -1))
Tensor.expand = _expand
Tensor.expand_as = lambda self, other: _expand(self, other.shape)
Tensor.__getitem__ = _getitem


def _repeat(self, *sizes):
    return indexing.Repeat.apply(self, _shape_arg(sizes))


def _split(self, split_size_or_sections, dim=0):
    """Views of consecutive pieces along ``dim``: equal pieces of split_size (the last may be
    smaller), or pieces of the listed sizes."""
    d = _norm_dim(dim, self._array.ndim)
    size = self._array.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}")
        sizes = [min(step, size - s) for s in range(0, size, step)] if size else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {dim}), but got "
                               f"split_sizes={sizes}")
    pieces, start = [], 0
    for n in sizes:
        index = (slice(None),) * d + (slice(start, start + n),)
        pieces.append(shape_ops.GetItem.apply(self, index))
        start += n
    return tuple(pieces)


def _chunk(self, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    size = self._array.shape[_norm_dim(dim, self._array.ndim)]
    if size == 0:  # PyTorch: `chunks` empty pieces
        return tuple(self.narrow(dim, 0, 0) for _ in range(chunks))
    return _split(self, -(-size // chunks), dim)


def _masked_fill(self, mask, value):
    return indexing.MaskedFill.apply(self, unwrap(mask), _other(value))


def _masked_fill_(self, mask, value):
    return indexing.MaskedFill.apply_inplace(self, unwrap(mask), _other(value))


def _gather(self, dim, index, sparse_grad=False):
    return indexing.Gather.apply(self, _norm_dim(dim, self._array.ndim), unwrap(index))


def _index_select(self, dim, index):
    return indexing.IndexSelect.apply(self, _norm_dim(dim, self._array.ndim),
                                      np.asarray(unwrap(index)).astype(np.int64))


def _bmm(self, other):
    if self._array.ndim != 3 or unwrap(other).ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor (got {self._array.ndim}D and "
                           f"{unwrap(other).ndim}D)")
    return self @ other


Tensor.repeat = _repeat
Tensor.split = _split
Tensor.chunk = _chunk
Tensor.masked_fill = _masked_fill
Tensor.masked_fill_ = _masked_fill_
Tensor.gather = _gather
Tensor.index_select = _index_select
Tensor.bmm = _bmm
Tensor.tril = lambda self, diagonal=0: indexing.Triangle.apply(self, diagonal, False)
Tensor.triu = lambda self, diagonal=0: indexing.Triangle.apply(self, diagonal, True)
Tensor.tril_ = lambda self, diagonal=0: indexing.Triangle.apply_inplace(self, diagonal, False)
Tensor.triu_ = lambda self, diagonal=0: indexing.Triangle.apply_inplace(self, diagonal, True)
Tensor.where = lambda self, condition, other: _where(condition, self, other)


def _narrow(self, dim, start, length):
    d = _norm_dim(dim, self._array.ndim)
    size = self._array.shape[d]
    start = int(unwrap(start))
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    start %= size or 1
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return shape_ops.GetItem.apply(self, (slice(None),) * d + (slice(start, start + length),))


def _unbind(self, dim=0):
    d = _norm_dim(dim, self._array.ndim)
    return tuple(shape_ops.GetItem.apply(self, (slice(None),) * d + (i,))
                 for i in range(self._array.shape[d]))


def _dims_arg(dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return tuple(dims[0])
    return dims


def _flip(self, *dims, **kwargs):
    """A copy with the order of elements reversed along ``dims`` (like PyTorch, not a view)."""
    if kwargs:  # flip(dims=(0, 1)): the spelling PyTorch's signature names
        unknown = sorted(set(kwargs) - {"dims"})
        if unknown:
            raise TypeError(f"flip() got an unexpected keyword argument '{unknown[0]}'")
        if dims:
            raise TypeError("flip() got multiple values for argument 'dims'")
        dims = (kwargs["dims"],)
    out = self
    normalized = [_norm_dim(d, self._array.ndim) for d in _dims_arg(dims)]
    for d in normalized:
        if normalized.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    for d in normalized:
        if not self._array.ndim:
            break  # a 0-d tensor's dim 0 / -1 reverses nothing
        n = self._array.shape[d]
        out = indexing.IndexSelect.apply(out, d, np.arange(n - 1, -1, -1, dtype=np.int64))
    return out if out is not self else shape_ops.Clone.apply(self)


def _roll(self, shifts, dims=None):
    """A copy whose elements move ``shifts`` places along ``dims`` and wrap around; without
    dims the flattened tensor rolls and takes back its shape."""
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:0")
        return _roll(self.flatten(), shifts, 0).view(self.shape)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    out = self
    for shift, dim in zip(shifts, dims):
        d = _norm_dim(dim, self._array.ndim)
        n = self._array.shape[d]
        index = (np.arange(n, dtype=np.int64) - int(shift)) % (n or 1)
        out = indexing.IndexSelect.apply(out, d, index)
    return out if out is not self else shape_ops.Clone.apply(self)


def _count_nonzero(self, dim=None):
    axis = None if dim is None else _reduce_dims(self, dim)
    return Tensor._make(np.asarray(np.count_nonzero(self._array, axis=axis), dtype=np.int64))


def _new(fill):
    def new(self, *size, dtype=None, device=None, requires_grad=False):
        np_dtype = self._array.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)
        arr = np.full(_shape_arg(size), fill, dtype=np_dtype)
        return Tensor._make(arr, requires_grad)
    return new


def _new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    return _new(fill_value)(self, size, dtype=dtype, requires_grad=requires_grad)


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    np_dtype = self._array.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)
    return Tensor._make(np.array(unwrap(data), dtype=np_dtype), requires_grad)


Tensor.narrow = _narrow
Tensor.unbind = _unbind
Tensor.flip = _flip
Tensor.roll = _roll
Tensor.count_nonzero = _count_nonzero
Tensor.new_zeros = _new(0)
Tensor.new_ones = _new(1)
Tensor.new_empty = _new(0)
Tensor.new_full = _new_full
Tensor.new_tensor = _new_tensor


def _repeat_interleave(self, repeats=None, dim=None, *, output_size=None):
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place; without dim
    the flattened tensor. ``torch.repeat_interleave(counts)`` repeats the indices 0..n-1."""
    if repeats is None:  # torch.repeat_interleave(repeats): self holds the counts
        counts = np.asarray(self._array, dtype=np.int64)
        return Tensor._make(np.repeat(np.arange(counts.size, dtype=np.int64), counts))
    src = self.flatten() if dim is None else self
    d = 0 if dim is None else _norm_dim(dim, self._array.ndim)
    counts = np.asarray(unwrap(repeats), dtype=np.int64)
    n = src._array.shape[d]
    if counts.ndim > 1 or (counts.ndim == 1 and counts.size not in (1, n)):
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {counts.size} and input.size({d}) = {n}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    index = np.repeat(np.arange(n, dtype=np.int64), counts.reshape(-1) if counts.size != 1
                      else int(counts.reshape(-1)[0]))
    return indexing.IndexSelect.apply(src, d, index)


def _diff(self, n=1, dim=-1, prepend=None, append=None):
    """out[i] = x[i + 1] - x[i] along ``dim``, ``n`` times, after joining prepend/append."""
    if self._array.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = _norm_dim(dim, self._array.ndim)
    parts = [p if isinstance(p, Tensor) else Tensor._make(np.asarray(p))
             for p in (prepend, self, append) if p is not None]
    out = shape_ops.Cat.apply(d, *parts) if len(parts) > 1 else self
    for _ in range(n):
        size = out._array.shape[d]
        if size == 0:
            break
        out = _narrow(out, d, 1, size - 1) - _narrow(out, d, 0, size - 1)
    return out


def _bincount(self, weights=None, minlength=0):
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
    return Tensor._make(counts)


def _unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
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


def unique_result(values, inverse, counts, return_inverse, return_counts):
    """unique's return: the values alone, or a tuple with the inverse and / or the counts."""
    out = [Tensor._make(values)]
    if return_inverse:
        out.append(Tensor._make(inverse.astype(np.int64)))
    if return_counts:
        out.append(Tensor._make(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


Tensor.repeat_interleave = _repeat_interleave
Tensor.diff = _diff
Tensor.bincount = _bincount
Tensor.unique = _unique


def _where(condition, input, other):
    cond = unwrap(condition)
    cond = np.asarray(cond).astype(bool, copy=False)
    return arith.Where.apply(cond, _other(input), _other(other))


# -------------------------------------------------------------------- activations (kernels)
def _softmax(log_output):
    def method(self, dim, dtype=None):
        return activation.SoftmaxFn.apply(self if dtype is None else self.type(dtype), dim,
                                          log_output)
    return method


def _relu(self):
    if self._array.dtype.kind in "iu":  # integer tensors keep their dtype (PyTorch)
        return self.clamp(min=0)
    return activation.ReLUFn.apply(self)


def _relu_(self):
    if self._array.dtype.kind in "iu":
        return self.clamp_(min=0)
    return activation.ReLUFn.apply_inplace(self)


def _float_activation(fn):
    """sigmoid and tanh: integer and bool tensors give the default float dtype, as in PyTorch
    (the kernels take float32 and float64)."""
    def method(self):
        if self._array.dtype.kind in "biu":
            self = self.to(_dtype.get_default_dtype())
        return fn.apply(self)
    return method


Tensor.relu, Tensor.relu_ = _relu, _relu_
Tensor.sigmoid = _float_activation(activation.SigmoidFn)
Tensor.sigmoid_ = lambda self: activation.SigmoidFn.apply_inplace(self)
Tensor.tanh = _float_activation(activation.TanhFn)
Tensor.tanh_ = lambda self: activation.TanhFn.apply_inplace(self)
Tensor.softmax = _softmax(log_output=False)
Tensor.log_softmax = _softmax(log_output=True)


# -------------------------------------------------------------------- writes at indices
return_types_cummax = collections.namedtuple("cummax", ["values", "indices"])
return_types_cummin = collections.namedtuple("cummin", ["values", "indices"])


def _index_array(index):
    return np.asarray(unwrap(index))


def _scatter(self, dim, index, src=None, value=None, *, reduce=None):
    source = value if src is None else src
    if source is None:
        raise TypeError("scatter() missing 1 required argument: 'src' or 'value'")
    d = _norm_dim(dim, self._array.ndim)
    return scatter_ops.Scatter.apply(self, d, _index_array(index), _other(source), reduce)


def _scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    source = value if src is None else src
    d = _norm_dim(dim, self._array.ndim)
    return scatter_ops.Scatter.apply_inplace(self, d, _index_array(index), _other(source),
                                             reduce)


def _scatter_add(self, dim, index, src):
    return scatter_ops.ScatterAdd.apply(self, _norm_dim(dim, self._array.ndim),
                                        _index_array(index), src)


def _scatter_add_(self, dim, index, src):
    return scatter_ops.ScatterAdd.apply_inplace(self, _norm_dim(dim, self._array.ndim),
                                                _index_array(index), src)


def _scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
    """scatter_reduce with 'sum' (through scatter_add), 'prod', 'mean', 'amax', 'amin'."""
    d = _norm_dim(dim, self._array.ndim)
    idx = _index_array(index)
    if reduce == "sum":
        base = self if include_self else scatter_ops.Scatter.apply(self, d, idx, 0.0, None)
        return scatter_ops.ScatterAdd.apply(base, d, idx, src)
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    return scatter_ops.ScatterReduce.apply(self, d, idx, _other(src), reduce, include_self)


def _index_add(self, dim, index, source, *, alpha=1):
    return scatter_ops.IndexAdd.apply(self, _norm_dim(dim, self._array.ndim), unwrap(index),
                                      source, alpha)


def _index_add_(self, dim, index, source, *, alpha=1):
    return scatter_ops.IndexAdd.apply_inplace(self, _norm_dim(dim, self._array.ndim),
                                              unwrap(index), source, alpha)


def _index_write(name, inplace):
    def method(self, dim, index, values):
        apply = scatter_ops.IndexWrite.apply_inplace if inplace else scatter_ops.IndexWrite.apply
        return apply(self, _norm_dim(dim, self._array.ndim), unwrap(index),
                     values if name == "index_copy" else unwrap(values), name)
    return method


def _masked_scatter(self, mask, source):
    return scatter_ops.MaskedScatter.apply(self, unwrap(mask), source)


def _masked_scatter_(self, mask, source):
    return scatter_ops.MaskedScatter.apply_inplace(self, unwrap(mask), source)


def _cum_extremum(take_max):
    result = return_types_cummax if take_max else return_types_cummin

    def method(self, dim):
        d = _norm_dim(dim, self._array.ndim)
        if self._array.ndim == 0:  # as a 1-element row
            values, indices = method(self.reshape(1), 0)
            return result(values.reshape(()), indices.reshape(()))
        values = scatter_ops.CumExtremum.apply(self, d, take_max)
        node = values._node
        if node is not None:
            indices = node.indices
        else:  # not recorded (no grad): run the op once more on the array
            ctx = scatter_ops.CumExtremum()
            scatter_ops.CumExtremum.forward(ctx, self._array, d, take_max)
            indices = ctx.indices
        return result(values, Tensor._make(indices))
    return method


def _logcumsumexp(self, dim):
    d = _norm_dim(dim, self._array.ndim)
    if self._array.size == 0:
        return self.clone()
    top = self.detach().amax(dim=d, keepdim=True)
    top = top.masked_fill(~top.isfinite(), 0.0)
    return (self - top).exp().cumsum(d).log() + top


Tensor.scatter, Tensor.scatter_ = _scatter, _scatter_
Tensor.scatter_add, Tensor.scatter_add_ = _scatter_add, _scatter_add_
Tensor.scatter_reduce = _scatter_reduce
Tensor.index_add, Tensor.index_add_ = _index_add, _index_add_
Tensor.index_copy = _index_write("index_copy", False)
Tensor.index_copy_ = _index_write("index_copy", True)
Tensor.index_fill = _index_write("index_fill", False)
Tensor.index_fill_ = _index_write("index_fill", True)
Tensor.masked_scatter, Tensor.masked_scatter_ = _masked_scatter, _masked_scatter_
Tensor.cummax = _cum_extremum(True)
Tensor.cummin = _cum_extremum(False)
Tensor.logcumsumexp = _logcumsumexp


# -------------------------------------------------------------------- small everyday ops
def _masked_select(self, mask):
    mask = np.asarray(unwrap(mask), dtype=bool)
    shape = np.broadcast_shapes(self._array.shape, mask.shape)
    return self.expand(*shape)[Tensor._make(np.broadcast_to(mask, shape))]


def _diagonal(self, offset=0, dim1=0, dim2=1):
    nd = self._array.ndim
    d1, d2 = _norm_dim(dim1, nd), _norm_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rows, cols = self._array.shape[d1], self._array.shape[d2]
    n = max(0, min(rows - max(-offset, 0), cols - max(offset, 0)))
    i = np.arange(n) + max(-offset, 0)
    j = np.arange(n) + max(offset, 0)
    # Move the two dimensions last, pick (i, j) pairs: the diagonal becomes the last dimension.
    rest = [k for k in range(nd) if k not in (d1, d2)]
    moved = self.permute(*rest, d1, d2)
    flat = moved.reshape(*moved.shape[:-2], rows * cols)
    return flat.index_select(-1, Tensor._make(i * cols + j)) if n else \
        flat[..., :0]


def _trace(self):
    if self._array.ndim != 2:
        raise RuntimeError("trace: expected a matrix")
    if self._array.dtype == np.bool_:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return _diagonal(self).sum()


def _diag(self, diagonal=0):
    if self._array.ndim == 1:
        n = self._array.shape[0] + abs(diagonal)
        out = Tensor._make(np.zeros((n, n), self._array.dtype))
        rows = np.arange(self._array.shape[0]) + max(-diagonal, 0)
        cols = np.arange(self._array.shape[0]) + max(diagonal, 0)
        flat_index = Tensor._make(rows * n + cols)
        return out.reshape(-1).scatter(0, flat_index, self).reshape(n, n)
    if self._array.ndim == 2:
        return _diagonal(self, diagonal)
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got "
                       f"{self._array.ndim}D")


def _diag_embed(self, offset=0, dim1=-2, dim2=-1):
    if (dim1, dim2) not in ((-2, -1), (self._array.ndim - 1, self._array.ndim)):
        raise NotImplementedError("diag_embed: only the default dim1=-2, dim2=-1")
    lead = self._array.shape[:-1]
    m = self._array.shape[-1]
    n = m + abs(offset)
    rows = np.arange(m) + max(-offset, 0)
    cols = np.arange(m) + max(offset, 0)
    base = Tensor._make(np.zeros(lead + (n * n,), self._array.dtype))
    index = Tensor._make(np.broadcast_to(rows * n + cols, lead + (m,)).copy())
    return base.scatter(-1, index, self).reshape(*lead, n, n)


def _div(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return self / other
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    return arith.RoundedDiv.apply(self, _other(other), rounding_mode)


def _isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = promotion.promote(self._array, unwrap(_other(other)))
    return Tensor._make(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def _std_or_var_mean(take_std):
    def fn(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        spread = (_std if take_std else _var)(self, dim, unbiased, keepdim, correction)
        return spread, _mean(self, dim if not isinstance(dim, bool) else None, keepdim)
    return fn


Tensor.masked_select = _masked_select
Tensor.diagonal = _diagonal
Tensor.trace = _trace
Tensor.diag = _diag
Tensor.diag_embed = _diag_embed
Tensor.copysign, Tensor.copysign_ = _binary_math(pointwise.Copysign)
Tensor.div = Tensor.divide = _div
Tensor.true_divide = lambda self, other: self / other
Tensor.floor_divide = lambda self, other: _div(self, other, rounding_mode="floor")
Tensor.isclose = _isclose
Tensor.argwhere = lambda self: Tensor._make(np.argwhere(self._array).astype(np.int64))
Tensor.nonzero = lambda self, *, as_tuple=False: (
    tuple(Tensor._make(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(self._array)))
    if as_tuple else Tensor._make(np.argwhere(self._array).astype(np.int64)))
Tensor.std_mean = _std_or_var_mean(True)
Tensor.var_mean = _std_or_var_mean(False)


# -------------------------------------------------------------------- numpy's axis= spelling
def _accepts_axis(method):
    """PyTorch accepts numpy's ``axis=`` (and ``keepdims=``) beside ``dim=``/``keepdim=`` in its
    reductions."""
    def wrapper(self, *args, axis=None, keepdims=None, **kwargs):
        if axis is not None:
            if args or "dim" in kwargs:
                raise TypeError(f"{method.__name__}() got multiple values for argument 'dim'")
            kwargs["dim"] = axis
        if keepdims is not None:
            kwargs["keepdim"] = keepdims
        return method(self, *args, **kwargs)
    wrapper.__name__ = wrapper.__qualname__ = getattr(method, "__name__", "reduction")
    wrapper.__doc__ = method.__doc__
    return wrapper


for _name in ("sum", "mean", "var", "std", "max", "min", "amax", "amin", "any", "all", "prod",
              "argmax", "argmin", "logsumexp", "median", "nansum", "nanmean", "count_nonzero",
              "std_mean", "var_mean"):
    if hasattr(Tensor, _name):
        setattr(Tensor, _name, _accepts_axis(getattr(Tensor, _name)))


def _unfold(self, dimension, size, step):
    d = _norm_dim(dimension, max(self._array.ndim, 1))
    return scatter_ops.Unfold.apply(self, d, int(size), int(step))


Tensor.unfold = _unfold
