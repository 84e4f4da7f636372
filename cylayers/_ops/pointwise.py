"""Elementwise math beyond the arithmetic operators: one table of (forward, derivative) pairs
for the unary functions, and the binary ones (atan2, fmod, remainder, logaddexp, lerp).

A unary op is one row: the numpy function and its derivative written from the input x and/or
the output y. Integer inputs give the default float dtype, as in PyTorch."""
import math

import numpy as np

from cylayers._kernels import pointwise as _kernel_module
from cylayers._ops.arith import (_float_result, _shape, promote, refuse_integer_division_by_zero,
                                 unbroadcast)
from cylayers._ops.promotion import promote_float
from cylayers._tensor_types import scalar_type_name
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import c_array, named_kernels

_kernels = named_kernels(_kernel_module)

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _erf(x, out=None):
    xc = c_array(x)
    target = out if out is not None and out.flags.c_contiguous and out.dtype.isnative \
        else np.empty_like(xc)
    _kernels.erf_forward(xc.reshape(-1), target.reshape(-1), threads_for(xc.size))
    if out is not None and target is not out:
        np.copyto(out, target)
        return out
    return target


def _sign(x, out=None):
    """PyTorch's sign: the sign of NaN is 0 (numpy's is NaN); bool stays bool."""
    if x.dtype == np.bool_:
        return x if out is None else out
    nan = np.isnan(x) if x.dtype.kind == "f" else None
    y = np.sign(x, out=out)
    if nan is not None and nan.any():
        y[nan] = 0
    return y


# name: (forward(x) -> y, derivative(x, y) -> dy/dx or None for a zero gradient, needs x, needs y)
UNARY = {
    "exp": (np.exp, lambda x, y: y, False, True),
    "log": (np.log, lambda x, y: 1 / x, True, False),
    "sqrt": (np.sqrt, lambda x, y: 1 / (2 * y), False, True),
    "abs": (np.abs, lambda x, y: _sign(x), True, False),
    "sin": (np.sin, lambda x, y: np.cos(x), True, False),
    "cos": (np.cos, lambda x, y: -np.sin(x), True, False),
    "tan": (np.tan, lambda x, y: 1 + y * y, False, True),
    "asin": (np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x), True, False),
    "acos": (np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x), True, False),
    "atan": (np.arctan, lambda x, y: 1 / (1 + x * x), True, False),
    "sinh": (np.sinh, lambda x, y: np.cosh(x), True, False),
    "cosh": (np.cosh, lambda x, y: np.sinh(x), True, False),
    "asinh": (np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1), True, False),
    "acosh": (np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1), True, False),
    "atanh": (np.arctanh, lambda x, y: 1 / (1 - x * x), True, False),
    "exp2": (np.exp2, lambda x, y: y * _LN2, False, True),
    "expm1": (np.expm1, lambda x, y: y + 1, False, True),
    "log2": (np.log2, lambda x, y: 1 / (x * _LN2), True, False),
    "log10": (np.log10, lambda x, y: 1 / (x * _LN10), True, False),
    "log1p": (np.log1p, lambda x, y: 1 / (1 + x), True, False),
    "rsqrt": (lambda x, out=None: np.divide(1, np.sqrt(x), out=out),
              lambda x, y: -0.5 * y * y * y, False, True),
    "reciprocal": (lambda x, out=None: np.divide(1, x, out=out), lambda x, y: -y * y, False,
                   True),
    "square": (np.square, lambda x, y: 2 * x, True, False),
    "erf": (_erf, lambda x, y: (2 / math.sqrt(math.pi)) * np.exp(-x * x), True, False),
    "frac": (lambda x, out=None: np.subtract(x, np.trunc(x), out=out), lambda x, y: 1.0,
             False, False),
    "floor": (np.floor, None, False, False),
    "ceil": (np.ceil, None, False, False),
    "round": (np.round, None, False, False),
    "trunc": (np.trunc, None, False, False),
    "sign": (_sign, None, False, False),
}
# Rounding keeps an integer tensor's dtype in PyTorch; the others make it floating.
_KEEPS_INTEGERS = {"floor", "ceil", "round", "trunc", "sign", "square", "abs"}
# PyTorch's kernels that refuse some dtype kinds: name -> (kernel's name, refused kinds)
_REFUSED_KINDS = {"floor": ("floor_vml_cpu", "b"), "ceil": ("ceil_vml_cpu", "b"),
                  "round": ("round_vml_cpu", "b"), "trunc": ("trunc_vml_cpu", "b"),
                  "abs": ("abs_cpu", "b"), "frac": ("frac_cpu", "biu")}


class Unary(Function):
    """One elementwise function of UNARY, chosen by ``name`` (a plain argument, not a Tensor)."""

    def name(self):
        return self.op_name.capitalize() + "Backward0"

    @staticmethod
    def forward(ctx, x, op_name):
        fn, derivative, needs_x, needs_y = UNARY[op_name]
        ctx.op_name = op_name
        if op_name in _REFUSED_KINDS and x.dtype.kind in _REFUSED_KINDS[op_name][1]:
            raise NotImplementedError(f'"{_REFUSED_KINDS[op_name][0]}" not implemented for '
                                      f"'{scalar_type_name(x.dtype)}'")
        if op_name not in _KEEPS_INTEGERS:
            x = _float_result(x)
        elif op_name == "square" and x.dtype == np.bool_:
            x = x.astype(np.int64)
        if ctx.out is not None and needs_x and derivative is not None:
            x = x.copy()  # in place: x is about to be overwritten
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            y = fn(x, out=ctx.out) if ctx.out is not None else fn(x)
        y = np.asarray(y)
        if y.dtype != x.dtype and ctx.out is None and x.dtype.kind == "f":
            y = y.astype(x.dtype)
        ctx.save_for_backward(x if needs_x else None, y if needs_y else None)
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return y

    @staticmethod
    def backward(ctx, g):
        _, derivative, _, _ = UNARY[ctx.op_name]
        if derivative is None:
            return np.zeros(ctx.shape, dtype=g.dtype), None
        x, y = ctx.saved_tensors
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return (g * derivative(x, y)).astype(g.dtype, copy=False), None


class NanToNum(Function):
    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.finite = np.isfinite(x)
        if x.dtype.kind != "f":
            return x.copy() if ctx.out is None else x
        info = np.finfo(x.dtype)
        out = x if ctx.out is not None else x.copy()
        out[np.isnan(x)] = nan
        out[np.isposinf(x)] = info.max if posinf is None else posinf
        out[np.isneginf(x)] = info.min if neginf is None else neginf
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.finite, None, None, None


# ---------------------------------------------------------------- binary
class _Binary(Function):
    """a op b with broadcasting; subclasses give the op and both partial derivatives."""
    # True: integer operands give the default float dtype (atan2); False: the promoted dtype
    # (fmod and remainder of integers are integers).
    float_result = True

    @staticmethod
    def compute(a, b, out):
        raise NotImplementedError

    @staticmethod
    def partials(a, b, y):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, a, b):
        a, b = promote_float(a, b) if cls.float_result else promote(a, b)
        if ctx.out is not None:
            a = a.copy()
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            y = np.asarray(cls.compute(a, b, ctx.out))
        ctx.save_for_backward(a, b, y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        a, b, y = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            da, db = cls.partials(a, b, y)
        return (unbroadcast(g * da, _shape(a)) if na else None,
                unbroadcast(g * db, _shape(b)) if nb else None)


class Atan2(_Binary):
    @staticmethod
    def compute(a, b, out):
        return np.arctan2(a, b, out=out)

    @staticmethod
    def partials(a, b, y):
        r2 = a * a + b * b
        zero = r2 == 0  # PyTorch: slope 0 at the origin, not 0 / 0
        r2 = np.where(zero, 1, r2)
        return np.where(zero, 0, b / r2), np.where(zero, 0, -a / r2)


class Fmod(_Binary):
    float_result = False

    @staticmethod
    def compute(a, b, out):
        refuse_integer_division_by_zero(a, b)
        return np.fmod(a, b, out=out)

    @staticmethod
    def partials(a, b, y):
        return 1.0, -np.trunc(a / b)


class Remainder(_Binary):
    float_result = False

    @staticmethod
    def compute(a, b, out):
        refuse_integer_division_by_zero(a, b)
        return np.remainder(a, b, out=out)

    @staticmethod
    def partials(a, b, y):
        return 1.0, -np.floor(a / b)


class Copysign(_Binary):
    """|a| with b's sign; PyTorch's gradient: result / a for a (0 where a is 0), none for b."""

    @staticmethod
    def compute(a, b, out):
        return np.copysign(a, b, out=out)

    @staticmethod
    def partials(a, b, y):
        return np.where(a == 0, 0, y / np.where(a == 0, 1, a)), 0.0


class LogAddExp(_Binary):
    @staticmethod
    def compute(a, b, out):
        return np.logaddexp(a, b, out=out)

    @staticmethod
    def partials(a, b, y):
        return np.exp(a - y), np.exp(b - y)


class Lerp(Function):
    """start + weight * (end - start)."""

    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save_for_backward(start.copy() if ctx.out is not None else start, end, weight)
        y = start + weight * (end - start)
        if ctx.out is not None:
            np.copyto(ctx.out, y)
            return ctx.out
        return np.asarray(y, dtype=start.dtype)

    @staticmethod
    def backward(ctx, g):
        start, end, weight = ctx.saved_tensors
        ns, ne, nw = ctx.needs_input_grad
        return (unbroadcast(g * (1 - weight), _shape(start)) if ns else None,
                unbroadcast(g * weight, _shape(end)) if ne else None,
                unbroadcast(g * (end - start), _shape(weight)) if nw else None)


class XLogY(Function):
    """x * log(y), 0 where x == 0 (also for y == 0); NaN y stays NaN."""

    @staticmethod
    def forward(ctx, x, y):
        x, y = promote_float(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where((np.asarray(x) == 0) & ~np.isnan(y), 0.0, x * np.log(y))
        ctx.save_for_backward(x, y)
        return np.asarray(out, dtype=np.result_type(x, y))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            # d/dx is log y, taken as 0 where x == 0 and y <= 0 (PyTorch's choice)
            zero = (np.asarray(x) == 0) & (np.asarray(y) <= 0)
            gx = unbroadcast(g * np.where(zero, 0.0, np.log(y)), _shape(x)) if nx else None
            gy = unbroadcast(g * x / y, _shape(y)) if ny else None
        return gx, gy
