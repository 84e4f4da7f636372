"""Elementwise arithmetic and math ops with broadcasting, and matmul."""
import numpy as np

from cylayers.autograd.function import Function

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)


def unbroadcast(grad, shape):
    """Sum ``grad`` back down to ``shape`` after numpy broadcasting expanded it."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _shape(x):
    return x.shape if isinstance(x, np.ndarray) else ()


def promote(a, b):
    """PyTorch's promotion where it differs from numpy's: an integer operand never widens a
    float32 to float64, and a Python float meets an integer tensor as the default float32."""
    a_arr, b_arr = isinstance(a, np.ndarray), isinstance(b, np.ndarray)
    ka = a.dtype.kind if a_arr else ("f" if isinstance(a, float) else "i")
    kb = b.dtype.kind if b_arr else ("f" if isinstance(b, float) else "i")
    if ka == kb or (ka != "f" and kb != "f"):
        return a, b
    # exactly one side is floating
    if ka == "f":
        target = a.dtype if a_arr else _F32
        if b_arr:
            b = b.astype(target)
        elif not a_arr:
            a = np.asarray(a, dtype=target)
    else:
        target = b.dtype if b_arr else _F32
        if a_arr:
            a = a.astype(target)
        elif not b_arr:
            b = np.asarray(b, dtype=target)
    return a, b


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


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
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
        if ctx.out is not None and isinstance(a, np.ndarray):
            # In place, a is about to be overwritten: keep a copy only if b's gradient needs it.
            if isinstance(b, np.ndarray) and ctx.needs_input_grad[1]:
                a = a.copy()
        ctx.save_for_backward(a, b)
        return np.multiply(a, b, out=ctx.out)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g * b, _shape(a)) if na else None,
                unbroadcast(g * a, _shape(b)) if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(_float_result(a), _float_result(b))
        if ctx.out is not None and isinstance(a, np.ndarray):
            if isinstance(b, np.ndarray) and ctx.needs_input_grad[1]:
                a = a.copy()
        ctx.save_for_backward(a, b)
        return np.true_divide(a, b, out=ctx.out)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g / b, _shape(a)) if na else None
        gb = unbroadcast(-g * a / (b * b), _shape(b)) if nb else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a, out=ctx.out)

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """a ** b for tensor or scalar a and b."""

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        if ctx.out is not None:
            a = a.copy()  # in place: a is about to be overwritten
        out = np.power(a, b, out=ctx.out)
        ctx.save_for_backward(a, b, out if ctx.out is None else out.copy())
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, np.ndarray):
                local = b * np.power(a, b - 1)
            elif b == 0:
                local = np.zeros_like(a)
            else:
                local = b * np.power(a, b - 1)
            ga = unbroadcast(g * local, _shape(a))
        if nb:
            with np.errstate(divide="ignore", invalid="ignore"):
                # d(a^b)/db = a^b log a, taken as 0 where a == 0 and b >= 0 (PyTorch's choice).
                log_a = np.where(a == 0, 0, np.log(np.where(a == 0, 1, a)))
            gb = unbroadcast(g * out * log_a, _shape(b))
        return ga, gb


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        if lo is None and hi is None:
            raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
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
            out = np.matmul(a, b)
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
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if nb:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        a, b = promote(a, b)
        ctx.cond = cond
        ctx.shapes = (_shape(a), _shape(b))
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        _, na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (None,
                unbroadcast(np.where(ctx.cond, g, 0), sa) if na else None,
                unbroadcast(np.where(ctx.cond, 0, g), sb) if nb else None)
