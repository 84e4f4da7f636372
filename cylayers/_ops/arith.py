"""Elementwise arithmetic and math ops with broadcasting, and matmul."""
import math

import numpy as np

from cylayers import _blas as blas
from cylayers._kernel_call import c_array, named_kernels
from cylayers._kernels import im2col as _sum_kernels
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._ops.promotion import convert, promote, promote_float, result_dtype

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)


K = named_kernels(_sum_kernels)  # column_sums


def column_sums(rows, dtype=None):
    """Each column's sum over the rows of a 2-D array (a bias gradient: the rows are its
    samples), accumulated in float64 and returned in ``dtype`` (default: the array's; a sum
    beyond its range is inf, as in PyTorch)."""
    dtype = rows.dtype if dtype is None else np.dtype(dtype)
    if rows.dtype == np.float32 or rows.dtype == np.float64:
        rows = c_array(rows)
        sums = np.empty(rows.shape[1])
        K.column_sums(rows.reshape(-1), sums, rows.shape[0], rows.shape[1],
                      threads_for(rows.size))
    elif rows.dtype.kind == "f":
        sums = rows.sum(axis=0, dtype=np.float64)
    else:
        return rows.sum(axis=0)
    with np.errstate(over="ignore"):
        return sums.astype(dtype, copy=False)


def sum_leading(a, lead, dtype=None):
    """``a`` summed over its first ``lead`` axes: the column sums of a 2-D array whose rows
    run over them (float64 accumulation; in ``dtype``, default a's)."""
    kept = a.shape[lead:]
    rows = a.reshape(math.prod(a.shape[:lead]), math.prod(kept))
    return column_sums(rows, dtype).reshape(kept)


def unbroadcast(grad, shape):
    """Sum ``grad`` back down to ``shape`` after numpy broadcasting expanded it (in float64 for
    float gradients, as the other reductions)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    # the axes of ``shape`` that broadcasting stretched from 1
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[extra + i] != 1)
    lead = len(axes) if axes == tuple(range(len(axes))) else 0
    if extra + lead:  # new and stretched leading axes: a bias's samples
        grad = sum_leading(grad, extra + lead)
        if lead:
            axes = ()
    if axes:
        if grad.dtype.kind == "f":
            grad = grad.sum(axis=axes, keepdims=True, dtype=np.float64).astype(grad.dtype)
        else:
            grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _shape(x):
    return x.shape if isinstance(x, np.ndarray) else ()


def _float_result(x):
    """Integer inputs to true division, sqrt, exp... give the default float type, as in PyTorch."""
    if isinstance(x, np.ndarray) and x.dtype.kind != "f":
        return x.astype(_F32)
    return x


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.shapes = (_shape(a), _shape(b))
        return np.add(a, b, out=ctx.out)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, sa) if na else None, unbroadcast(g, sb) if nb else None)


def _is_bool(x):
    return type(x) is bool or (isinstance(x, np.ndarray) and x.dtype == np.bool_)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        if _is_bool(a) or _is_bool(b):
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                               "supported. If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        a, b = promote(a, b)
        ctx.shapes = (_shape(a), _shape(b))
        return np.subtract(a, b, out=ctx.out)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, sa) if na else None, unbroadcast(-g, sb) if nb else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        na, nb = ctx.needs_input_grad
        # Each side's gradient needs only the other side: keep no more (a number times a
        # tensor keeps nothing of the tensor, so later in-place edits of it are no error).
        if ctx.out is not None and isinstance(a, np.ndarray) and nb and isinstance(b, np.ndarray):
            a = a.copy()  # in place, a is about to be overwritten
        ctx.shapes = (_shape(a), _shape(b))
        ctx.save_for_backward(a if nb else None, b if na else None)
        return np.multiply(a, b, out=ctx.out)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g * b, sa) if na else None,
                unbroadcast(g * a, sb) if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote_float(a, b)
        nb = ctx.needs_input_grad[1]
        # a's gradient needs b only; b's needs a and b.
        if ctx.out is not None and isinstance(a, np.ndarray) and nb and isinstance(b, np.ndarray):
            a = a.copy()  # in place, a is about to be overwritten
        ctx.shapes = (_shape(a), _shape(b))
        ctx.save_for_backward(a if nb else None, b)
        return np.true_divide(a, b, out=ctx.out)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g / b, sa) if na else None
        gb = unbroadcast(-g * a / (b * b), sb) if nb else None
        return ga, gb


def refuse_integer_division_by_zero(a, b):
    """PyTorch raises for an integer division or remainder by zero (numpy gives 0)."""
    if _integral(a) and _integral(b) and np.any(np.asarray(b) == 0):
        raise RuntimeError("ZeroDivisionError")


def _integral(x):
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biu"
    return isinstance(x, (int, np.integer, np.bool_))


class RoundedDiv(Function):
    """a / b rounded toward zero ('trunc') or down ('floor'): div(rounding_mode=), floor_divide
    and //. Integers stay integers; the result is piecewise constant, so both gradients are
    zero, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, b, mode):
        a, b = promote(a, b)
        ctx.shapes = (_shape(a), _shape(b))
        if a.dtype.kind in "biu" if isinstance(a, np.ndarray) else b.dtype.kind in "biu":
            refuse_integer_division_by_zero(a, b)
            q = np.floor_divide(a, b)
            if mode == "trunc":  # floor rounded one up where the exact quotient was negative
                q = q + ((np.remainder(a, b) != 0) & ((np.asarray(a) < 0) != (np.asarray(b) < 0)))
            return np.asarray(q, dtype=np.result_type(a, b))
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.true_divide(a, b)
            return np.asarray(np.trunc(q) if mode == "trunc" else np.floor(q))

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad[:2]
        return (np.zeros(sa, g.dtype) if na else None, np.zeros(sb, g.dtype) if nb else None,
                None)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        if _is_bool(a):
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return np.negative(a, out=ctx.out)

    @staticmethod
    def backward(ctx, g):
        return -g


def _integer_power(a, b):
    kinds = [x.dtype.kind if isinstance(x, np.ndarray) else "f" if isinstance(x, float) else "i"
             for x in (a, b)]
    return all(k in "iub" for k in kinds)


def _int_power(a, b, out):
    """Integer powers as PyTorch computes them: a negative exponent of a tensor gives 1 for a
    base of 1, +-1 for -1 and 0 otherwise; of a Python number it is refused."""
    if not isinstance(b, np.ndarray):
        if b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return np.power(a, b, out=out)
    negative = b < 0
    if not negative.any():
        return np.power(a, b, out=out)
    dt = np.result_type(a, b)
    positive = np.power(a, np.where(negative, 0, b).astype(dt))
    odd = (np.abs(b) % 2 == 1)
    inverse = np.where(np.asarray(a) == 1, 1, np.where(np.asarray(a) == -1,
                                                     np.where(odd, -1, 1), 0))
    result = np.where(negative, inverse, positive).astype(dt)
    if out is not None:
        out[...] = result
        return out
    return result


def _power(a, b, out=None):
    """a ** b; a power of -0.5 is 1 / sqrt(a), as PyTorch computes it (so (-0) ** -0.5 is -inf
    and (-inf) ** -0.5 is NaN, where C's pow gives inf and 0)."""
    if type(b) is float and b == -0.5:
        return np.reciprocal(np.sqrt(a, out=out), out=out)
    return np.power(a, b, out=out)


class Pow(Function):
    """a ** b for tensor or scalar a and b."""

    @staticmethod
    def forward(ctx, a, b):
        if type(b) is int and b < 0 and _integer_power(a, b):  # before promote wraps it
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        a, b = promote(a, b)
        if ctx.out is not None:
            a = a.copy()  # in place: a is about to be overwritten
        if _integer_power(a, b):
            out = _int_power(a, b, ctx.out)
        else:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out = _power(a, b, ctx.out)
        ctx.save_for_backward(a, b, out if ctx.out is None else out.copy())
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if na:
                # PyTorch's rule: 0 where the exponent is 0 (so 0 ** 0 has slope 0, not 0 * inf)
                local = np.where(np.asarray(b) == 0, 0, b * _power(a, b - 1))
                ga = unbroadcast(np.asarray(g * local, dtype=out.dtype), _shape(a))
            if nb:
                # d(a^b)/db = a^b log a, 0 where a == 0 and b >= 0; a == 0 with b < 0 gives
                # inf * log 0 = -inf, as in PyTorch.
                zero = (np.asarray(a) == 0) & (np.asarray(b) >= 0)
                local = np.where(zero, 0, out * np.log(np.where(zero, 1, a)))
                gb = unbroadcast(np.asarray(g * local, dtype=out.dtype), _shape(b))
        return ga, gb


class Extremum(Function):
    """maximum / minimum of two tensors: NaN propagates (numpy's maximum does), and the
    gradient of a tie is split in half between the two sides, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, b, take_max):
        a, b = promote(a, b)
        ctx.take_max = take_max
        ctx.shapes = (_shape(a), _shape(b))
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(a, b)
        return np.maximum(a, b) if take_max else np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad[:2]
        split = np.where(a == b, g / 2, g)
        a_loses, b_loses = (a < b, a > b) if ctx.take_max else (a > b, a < b)
        return (unbroadcast(np.where(a_loses, 0, split), sa) if na else None,
                unbroadcast(np.where(b_loses, 0, split), sb) if nb else None, None)


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        if lo is None and hi is None:
            raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
        # PyTorch's result dtype over all three (an integer tensor clamped to 0.5 is float)
        dt = result_dtype(a, lo, hi)
        a = convert(a, dt)
        lo, hi = (None if v is None else convert(v, dt) for v in (lo, hi))
        if ctx.out is not None and ctx.needs_input_grad[0]:
            # In place, a is about to be overwritten: keep only the pass-through mask.
            ctx.mask = (((a >= lo) if lo is not None else True)
                        & ((a <= hi) if hi is not None else True))
        else:
            ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        out = np.clip(a, lo, hi, out=ctx.out)
        return out if ctx.out is not None else out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        if hasattr(ctx, "mask"):
            mask = ctx.mask
        else:
            a = ctx.saved_tensors[0]
            mask = np.ones(a.shape, dtype=bool)
            if ctx.lo is not None:
                mask &= a >= ctx.lo
            if ctx.hi is not None:
                mask &= a <= ctx.hi
        return g * mask, None, None


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                               f"{a.ndim}D and {b.ndim}D")
        a, b = promote(a, b)
        if a.dtype != b.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{a.dtype} != {b.dtype}")
        try:
            out = blas.matmul_nd(a, b) if a.ndim >= 2 and b.ndim >= 2 else np.matmul(a, b)
        except ValueError:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a.shape))} and "
                f"{'x'.join(map(str, b.shape))})") from None
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g2 = g.reshape(1, 1)
        elif a.ndim == 1:
            g2 = np.expand_dims(g, -2)
        elif b.ndim == 1:
            g2 = g[..., None]
        else:
            g2 = g
        ga = gb = None
        if na:
            ga = unbroadcast(blas.matmul_nd(g2, b2, trans_b=True, out=_laid_out_as(a2, g2)),
                             a2.shape).reshape(a.shape)
        if nb:
            gb = unbroadcast(blas.matmul_nd(a2, g2, trans_a=True, out=_laid_out_as(b2, g2)),
                             b2.shape).reshape(b.shape)
        return ga, gb


def _laid_out_as(operand, g):
    """An array for an operand's gradient in the operand's memory order, where it needs no
    sum over broadcast dimensions: the reshapes and permutes that made the operand (attention's
    heads of one projection) then give views of the gradient on the way back, not copies."""
    if (operand.ndim != g.ndim or operand.shape[:-2] != g.shape[:-2]
            or operand.flags.c_contiguous or operand.dtype != g.dtype):
        return None
    return np.empty_like(operand)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        a, b = promote(a, b)
        ctx.cond = cond
        ctx.shapes = (_shape(a), _shape(b))
        if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
            # two Python numbers: PyTorch's default dtypes (float32 for floats), not numpy's
            return np.where(cond, a, b).astype(result_dtype(a, b))
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        _, na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (None,
                unbroadcast(np.where(ctx.cond, g, 0), sa) if na else None,
                unbroadcast(np.where(ctx.cond, 0, g), sb) if nb else None)
