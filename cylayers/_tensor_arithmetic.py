"""Tensor's operators and their named forms: arithmetic, comparisons, bitwise and logical ops,
division with rounding modes, equality tests. Each is a thin call into an op of cylayers._ops."""
import functools

import numpy as np

from cylayers._ops import arith, promotion, untaped
from cylayers._tensor_base import TensorBase, unwrap
from cylayers.autograd.function import broadcast_error

_TORCH_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double"}


def _other(x):
    """Scalars stay Python numbers; arrays and lists become Tensors (no grad)."""
    if isinstance(x, (TensorBase, int, float, bool)):
        return x
    if isinstance(x, np.generic):
        return x.item()
    return TensorBase._make(np.asarray(x))


def _tensor_only(method, name):
    """PyTorch's signature for ops whose other operand must be a Tensor (atan2, maximum,
    logaddexp, logical_and...): a Python number is a TypeError, not broadcast."""
    @functools.wraps(method)
    def checked(self, other):
        if not isinstance(other, TensorBase):
            raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return method(self, other)
    checked.__name__ = name
    return checked


def tensor_operand(name):
    """Decorator form of _tensor_only: ``other`` must be a Tensor."""
    return lambda method: _tensor_only(method, name)


def _compare(self, other, ufunc):
    """An elementwise comparison (or logical op) in the promoted dtype, giving bools."""
    other = _other(other)
    try:
        result = ufunc(*promotion.promote(self._array, unwrap(other)))
    except ValueError as e:
        raise broadcast_error(e, (self._array, unwrap(other))) from None
    return untaped.note(untaped.Elementwise, (self, other, ufunc.__name__),
                        TensorBase._make(result))


def _bitwise(self, other, ufunc, name, swap=False):
    """Bitwise ops of integer and bool tensors (logical for bools), in the promoted dtype;
    ``swap``: the reflected operator (other <op> self)."""
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
    out = TensorBase._make(np.asarray(ufunc(a, b)))
    return untaped.note(untaped.Elementwise,
                        (other, self, ufunc.__name__) if swap else (self, other,
                                                                    ufunc.__name__), out)


def _where(condition, input, other):
    cond = unwrap(condition)
    cond = np.asarray(cond).astype(bool, copy=False)
    return arith.Where.apply(cond, _other(input), _other(other))


class ArithmeticMethods:
    __slots__ = ()

    # ------------------------------------------------------------ arithmetic operators
    def __add__(self, other):
        return arith.Add.apply(self, _other(other))

    def __radd__(self, other):
        return arith.Add.apply(_other(other), self)

    def __sub__(self, other):
        return arith.Sub.apply(self, _other(other))

    def __rsub__(self, other):
        return arith.Sub.apply(_other(other), self)

    def __mul__(self, other):
        return arith.Mul.apply(self, _other(other))

    def __rmul__(self, other):
        return arith.Mul.apply(_other(other), self)

    def __truediv__(self, other):
        return arith.Div.apply(self, _other(other))

    def __rtruediv__(self, other):
        return arith.Div.apply(_other(other), self)

    def __pow__(self, other):
        return arith.Pow.apply(self, _other(other))

    def __rpow__(self, other):
        return arith.Pow.apply(_other(other), self)

    def __matmul__(self, other):
        return arith.MatMul.apply(self, _other(other))

    def __rmatmul__(self, other):
        return arith.MatMul.apply(_other(other), self)

    def __floordiv__(self, other):
        return arith.RoundedDiv.apply(self, _other(other), "floor")

    def __rfloordiv__(self, other):
        return arith.RoundedDiv.apply(_other(other), self, "floor")

    def __neg__(self):
        return arith.Neg.apply(self)

    def __pos__(self):
        return self

    def __iadd__(self, other):
        return self.add_(_other(other))

    def __isub__(self, other):
        return self.sub_(_other(other))

    def __imul__(self, other):
        return self.mul_(_other(other))

    def __itruediv__(self, other):
        return self.div_(_other(other))

    def __ipow__(self, exponent):
        return self.pow_(exponent)

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def pow(self, other):
        return self ** other

    def matmul(self, other):
        return self @ other

    mm = matmul

    def bmm(self, other):
        if self._array.ndim != 3 or unwrap(other).ndim != 3:
            raise RuntimeError(f"batch1 must be a 3D tensor (got {self._array.ndim}D and "
                               f"{unwrap(other).ndim}D)")
        return self @ other

    def neg(self):
        return -self

    negative = neg

    def neg_(self):
        return arith.Neg.apply_inplace(self)

    negative_ = neg_

    def pow_(self, exponent):
        return arith.Pow.apply_inplace(self, _other(exponent))

    def div(self, other, *, rounding_mode=None):
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                             f"but found '{rounding_mode}'")
        return arith.RoundedDiv.apply(self, _other(other), rounding_mode)

    divide = div

    def true_divide(self, other):
        return self / other

    def floor_divide(self, other):
        return self.div(other, rounding_mode="floor")

    @tensor_operand("maximum")
    def maximum(self, other):
        return arith.Extremum.apply(self, other, True)

    @tensor_operand("minimum")
    def minimum(self, other):
        return arith.Extremum.apply(self, other, False)

    def where(self, condition, other):
        return _where(condition, self, other)

    # ------------------------------------------------------------ comparisons
    # Defining __eq__ would otherwise make the class unhashable.
    __hash__ = object.__hash__

    def __eq__(self, other):
        return _compare(self, other, np.equal)

    def __ne__(self, other):
        return _compare(self, other, np.not_equal)

    def __lt__(self, other):
        return _compare(self, other, np.less)

    def __le__(self, other):
        return _compare(self, other, np.less_equal)

    def __gt__(self, other):
        return _compare(self, other, np.greater)

    def __ge__(self, other):
        return _compare(self, other, np.greater_equal)

    eq = __eq__
    ne = not_equal = __ne__
    lt = less = __lt__
    le = less_equal = __le__
    gt = greater = __gt__
    ge = greater_equal = __ge__

    def equal(self, other):
        return bool(self._array.shape == other._array.shape
                    and np.array_equal(self._array, other._array))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(np.allclose(self._array, unwrap(other), rtol=rtol, atol=atol,
                                equal_nan=equal_nan))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        a, b = promotion.promote(self._array, unwrap(_other(other)))
        return TensorBase._make(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def isnan(self):
        return TensorBase._make(np.isnan(self._array))

    def isinf(self):
        return TensorBase._make(np.isinf(self._array))

    def isposinf(self):
        return TensorBase._make(np.isposinf(self._array))

    def isneginf(self):
        return TensorBase._make(np.isneginf(self._array))

    def isfinite(self):
        return TensorBase._make(np.isfinite(self._array))

    def isreal(self):
        return TensorBase._make(np.isreal(self._array))

    # ------------------------------------------------------------ logical and bitwise
    @tensor_operand("logical_and")
    def logical_and(self, other):
        return _compare(self, other, np.logical_and)

    @tensor_operand("logical_or")
    def logical_or(self, other):
        return _compare(self, other, np.logical_or)

    @tensor_operand("logical_xor")
    def logical_xor(self, other):
        return _compare(self, other, np.logical_xor)

    def logical_not(self):
        return untaped.note(untaped.Elementwise, (self, None, "logical_not"),
                            TensorBase._make(np.logical_not(self._array)))

    def __and__(self, other):
        return _bitwise(self, other, np.bitwise_and, "bitwise_and")

    def __or__(self, other):
        return _bitwise(self, other, np.bitwise_or, "bitwise_or")

    def __xor__(self, other):
        return _bitwise(self, other, np.bitwise_xor, "bitwise_xor")

    def __lshift__(self, other):
        return _bitwise(self, other, np.left_shift, "lshift")

    def __rshift__(self, other):
        return _bitwise(self, other, np.right_shift, "rshift")

    def __rand__(self, other):
        return _bitwise(self, other, np.bitwise_and, "bitwise_and", swap=True)

    def __ror__(self, other):
        return _bitwise(self, other, np.bitwise_or, "bitwise_or", swap=True)

    def __rxor__(self, other):
        return _bitwise(self, other, np.bitwise_xor, "bitwise_xor", swap=True)

    def __rlshift__(self, other):
        return _bitwise(self, other, np.left_shift, "lshift", swap=True)

    def __rrshift__(self, other):
        return _bitwise(self, other, np.right_shift, "rshift", swap=True)

    bitwise_and = __and__
    bitwise_or = __or__
    bitwise_xor = __xor__
    bitwise_left_shift = __lshift__
    bitwise_right_shift = __rshift__

    def bitwise_not(self):
        if self._array.dtype.kind not in "biu":
            raise RuntimeError(f"\"bitwise_not_cpu\" not implemented for "
                               f"'{_TORCH_TYPE_NAMES.get(self._array.dtype.name)}'")
        if self._array.dtype == bool:
            return self.logical_not()
        return TensorBase._make(np.logical_not(self._array) if self._array.dtype == bool
                            else np.invert(self._array))

    __invert__ = bitwise_not
