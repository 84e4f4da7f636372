"""Reductions: sum, mean, var, max/min (with and without dim)."""
import warnings

import numpy as np

from cylayers._ops.arith import sum_leading
from cylayers.autograd.function import Function


def norm_dims(dim, ndim):
    """None -> all dims; int or sequence -> sorted tuple of non-negative dims."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    nd = max(ndim, 1)
    out = []
    for d in dims:
        if not -nd <= d < nd:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-nd}, {nd - 1}], but got {d})")
        out.append(d % nd)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else ()


def _over_leading_axes(dims, ndim):
    """Whether sorted ``dims`` are the first axes, not all of them (x.sum(0) of samples)."""
    return 0 < len(dims) < ndim and dims == tuple(range(len(dims)))


def _float_sum(a, dims, keepdim):
    """The sum of a float array over ``dims``. Over leading axes numpy's sum is a running sum
    in the array's type, so there sum_leading sums in float64; other sums are numpy's pairwise
    ones."""
    if _over_leading_axes(dims, a.ndim) and a.dtype.kind == "f":
        out = sum_leading(a, len(dims))
        return out.reshape((1,) * len(dims) + out.shape) if keepdim else out
    return np.asarray(np.sum(a, axis=dims, keepdims=keepdim))


def _expand_back(g, shape, dims, keepdim):
    if not keepdim and dims:
        g = np.expand_dims(g, dims)
    return np.broadcast_to(g, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, dim, keepdim):
        dims = norm_dims(dim, a.ndim)
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        if a.dtype.kind in "bui":
            return np.sum(a, axis=dims, keepdims=keepdim, dtype=np.int64)
        return _float_sum(a, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, dim, keepdim):
        if a.dtype.kind != "f":
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be "
                               f"either a floating point or complex dtype. Got: {a.dtype}")
        dims = norm_dims(dim, a.ndim)
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        count = 1
        for d in dims:
            count *= a.shape[d]
        ctx.count = count
        with np.errstate(invalid="ignore", divide="ignore"):
            if _over_leading_axes(dims, a.ndim):  # divided in float64: float16 sums overflow
                means = (sum_leading(a, len(dims), np.float64) / count).astype(a.dtype)
                return means.reshape((1,) * len(dims) + means.shape) if keepdim else means
            return np.asarray(np.mean(a, axis=dims, keepdims=keepdim), dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g / ctx.count, ctx.shape, ctx.dims, ctx.keepdim), None, None


class Var(Function):
    @staticmethod
    def forward(ctx, a, dim, correction, keepdim):
        dims = norm_dims(dim, a.ndim)
        ctx.dims, ctx.keepdim = dims, keepdim
        count = 1
        for d in dims:
            count *= a.shape[d]
        ctx.denom = max(count - correction, 0)
        ctx.save_for_backward(a)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            # too few elements: NaN, and the caller warns in PyTorch's words, not numpy's
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(np.var(a, axis=dims, ddof=correction, keepdims=keepdim),
                              dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        if not ctx.keepdim and ctx.dims:
            g = np.expand_dims(g, ctx.dims)
        centered = a - a.mean(axis=ctx.dims, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            # no degrees of freedom left: 2 / 0 is inf, and the gradient NaN (PyTorch)
            return (np.float64(2.0) / ctx.denom) * centered * g, None, None, None


class Std(Function):
    """The square root of Var; PyTorch's gradient is 0 where the deviation is 0 (a constant
    row), where sqrt's own slope would make it 0 * inf = NaN."""

    @staticmethod
    def forward(ctx, a, dim, correction, keepdim):
        ctx.std = np.sqrt(Var.forward(ctx, a, dim, correction, keepdim))
        return ctx.std

    @staticmethod
    def backward(ctx, g):
        with np.errstate(invalid="ignore", divide="ignore"):
            g_var = np.where(ctx.std == 0, 0, g / (2 * ctx.std)).astype(g.dtype, copy=False)
        return Var.backward(ctx, g_var)


class MaxAll(Function):
    """max()/min() over every element; ties share the gradient evenly, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, use_min):
        if a.size == 0:
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        out = np.asarray(a.min() if use_min else a.max())
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = a == out
        return mask * (g / mask.sum()), None


class MaxDim(Function):
    """Values of max/min along ``dim``; the indices are computed alongside, not differentiated."""

    @staticmethod
    def forward(ctx, a, dim, keepdim, use_min):
        d = norm_dims(dim, a.ndim)
        d = d[0] if d else None
        if a.ndim and a.shape[d] == 0:
            raise IndexError(f"max(): Expected reduction dim {dim} to have non-zero size.")
        idx = (np.argmin if use_min else np.argmax)(a, axis=d, keepdims=True) if a.ndim else \
            np.zeros((), dtype=np.int64)
        values = np.take_along_axis(a, idx, axis=d) if a.ndim else a.copy()
        ctx.shape, ctx.dim, ctx.keepdim, ctx.idx = a.shape, d, keepdim, idx
        if not keepdim and a.ndim:
            values = np.squeeze(values, axis=d)
            idx = np.squeeze(idx, axis=d)
        ctx.indices = idx.astype(np.int64)
        return values

    @staticmethod
    def backward(ctx, g):
        if not ctx.shape:
            return g, None, None, None
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.dim)
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, ctx.idx, g, axis=ctx.dim)
        return out, None, None, None


def _keep(g, dims, keepdim):
    """The reduced gradient with its reduced dims back (size 1), ready to broadcast."""
    return np.expand_dims(g, dims) if (not keepdim and dims) else g


class Prod(Function):
    """Product over ``dim`` (or everything). The gradient of each element is the product of the
    others, computed from prefix and suffix products so that zeros are exact (no division)."""

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        ctx.dim, ctx.keepdim = dim, keepdim
        ctx.save_for_backward(a)
        if a.dtype.kind in "bui":
            return np.asarray(np.prod(a, axis=dim, keepdims=keepdim, dtype=np.int64))
        return np.asarray(np.prod(a, axis=dim, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        if ctx.dim is None:
            flat = a.reshape(-1)
            axis, shape = 0, a.shape
            g = np.asarray(g).reshape(1)
        else:
            flat, axis, shape = a, ctx.dim, a.shape
            g = _keep(g, (ctx.dim,), ctx.keepdim)
        n = flat.shape[axis]
        ones = np.ones_like(np.take(flat, [0], axis=axis)) if n else None
        if not n:
            return np.zeros(shape, dtype=a.dtype), None, None
        prefix = np.concatenate([ones, np.cumprod(np.take(flat, range(n - 1), axis=axis),
                                                  axis=axis)], axis=axis)
        rev = np.flip(flat, axis=axis)
        suffix = np.flip(np.concatenate([ones, np.cumprod(np.take(rev, range(n - 1), axis=axis),
                                                          axis=axis)], axis=axis), axis=axis)
        return (g * prefix * suffix).reshape(shape), None, None


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.dims, ctx.keepdim = dims, keepdim
        m = np.max(a, axis=dims, keepdims=True) if a.size else np.zeros((1,) * a.ndim, a.dtype)
        m = np.where(np.isfinite(m), m, 0)  # an all -inf row stays -inf; an inf row stays inf
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - m), axis=dims, keepdims=True)) + m
        ctx.save_for_backward(a, out)
        return np.asarray(out if keepdim else np.squeeze(out, axis=dims), dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        g = _keep(g, ctx.dims, ctx.keepdim)
        with np.errstate(invalid="ignore"):
            return g * np.exp(a - out), None, None


class AmaxAmin(Function):
    """amax/amin: the gradient is shared evenly between tied extremes, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, dims, keepdim, use_min):
        fn = np.min if use_min else np.max
        out = fn(a, axis=dims, keepdims=True)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(a, out)
        return np.asarray(out if keepdim else np.squeeze(out, axis=dims))

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = a == out
        count = mask.sum(axis=ctx.dims, keepdims=True)
        return _keep(g, ctx.dims, ctx.keepdim) * mask / count, None, None, None


class ValueOfTies(Function):
    """A 0-d statistic equal to ``value`` (one of a's entries, or NaN); its gradient is shared
    evenly between the entries equal to it (NaN: the NaN entries), PyTorch's rule for median."""

    @staticmethod
    def forward(ctx, a, value):
        ctx.mask = np.isnan(a) if np.isnan(value) else a == value
        return np.asarray(value, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        mask = ctx.mask
        return (g * mask / mask.sum()).astype(g.dtype), None


class Select(Function):
    """Values picked along ``dim`` at given indices (median, mode, kthvalue, sort, topk): the
    gradient goes back to exactly those positions."""

    @staticmethod
    def forward(ctx, a, indices, dim):
        ctx.shape, ctx.indices, ctx.dim = a.shape, indices, dim
        if a.ndim == 0:
            return a.copy()
        return np.take_along_axis(a, indices, axis=dim)

    @staticmethod
    def backward(ctx, g):
        if not ctx.shape:
            return g, None, None
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, ctx.indices, g, axis=ctx.dim)
        return out, None, None


class CumSum(Function):
    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        if a.dtype.kind in "bui":
            return np.cumsum(a, axis=dim, dtype=np.int64)
        return np.cumsum(a, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return np.flip(np.cumsum(np.flip(g, ctx.dim), axis=ctx.dim), ctx.dim), None


class CumProd(Function):
    """Running product along ``dim``. The gradient avoids dividing by zero: before a slice's
    first zero it is the reversed running sum of grad * out divided by x; at that zero it is the
    product of everything else up to each later output; after it, zero."""

    @staticmethod
    def forward(ctx, a, dim):
        out = np.cumprod(a, axis=dim, dtype=np.int64 if a.dtype.kind in "bui" else None)
        ctx.dim = dim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        if a.size == 0:  # an empty dimension or an empty other one: nothing to differentiate
            return np.zeros(a.shape, dtype=g.dtype), None
        rows_a = np.moveaxis(a, ctx.dim, -1).reshape(-1, a.shape[ctx.dim])
        rows_o = np.moveaxis(out, ctx.dim, -1).reshape(rows_a.shape)
        rows_g = np.moveaxis(g, ctx.dim, -1).reshape(rows_a.shape)
        grad = np.zeros_like(rows_g)
        n = rows_a.shape[1]
        zero = rows_a == 0
        has_zero = zero.any(axis=1)
        first = np.where(has_zero, zero.argmax(axis=1), n)
        clean = ~has_zero  # most rows: one vectorized pass
        tail = np.flip(np.cumsum(np.flip(rows_g[clean] * rows_o[clean], 1), axis=1), 1)
        grad[clean] = tail / rows_a[clean]
        for r in np.flatnonzero(has_zero):
            z = first[r]
            x, o, gr = rows_a[r], rows_o[r], rows_g[r]
            if z:
                tail = np.cumsum((gr[:z] * o[:z])[::-1])[::-1]
                grad[r, :z] = tail / x[:z]
            if z < n:
                before = o[z - 1] if z else 1
                # d out_j / d x_z for j >= z: the product of x_0..x_j without x_z.
                after = np.cumprod(np.concatenate(([1], x[z + 1:])))[:n - z]
                grad[r, z] = np.sum(gr[z:] * before * after)
        grad = grad.reshape(np.moveaxis(g, ctx.dim, -1).shape)
        return np.moveaxis(grad, -1, ctx.dim), None


class Norm(Function):
    """Vector p-norm over ``dims`` (p = 2 covers 'fro'); inf / -inf are max / min of |x|."""

    @staticmethod
    def forward(ctx, a, p, dims, keepdim):
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        x = np.abs(a)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if p == np.inf:
                out = np.max(x, axis=dims, keepdims=True) if x.size else np.zeros(
                    (1,) * x.ndim, x.dtype)
            elif p == -np.inf:
                out = np.min(x, axis=dims, keepdims=True)
            elif p == 0:
                out = np.sum(x != 0, axis=dims, keepdims=True).astype(a.dtype)
            elif p == 1:
                out = np.sum(x, axis=dims, keepdims=True)
            elif p == 2:
                out = np.sqrt(np.sum(x * x, axis=dims, keepdims=True))
            else:
                out = np.sum(x ** p, axis=dims, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        return np.asarray(out if keepdim else np.squeeze(out, axis=dims), dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        p = ctx.p
        g = _keep(g, ctx.dims, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                grad = np.zeros_like(a)
            elif p == 1:
                grad = np.sign(a) * g
            elif p in (np.inf, -np.inf):
                mask = np.abs(a) == out
                grad = np.sign(a) * mask * g / mask.sum(axis=ctx.dims, keepdims=True)
            elif p == 2:
                grad = np.where(out == 0, 0, a / out) * g  # the subgradient 0 at 0, as PyTorch
            else:
                grad = np.where(out == 0, 0,
                                a * np.abs(a) ** (p - 2) / out ** (p - 1)) * g
        return grad.astype(a.dtype, copy=False), None, None, None
