"""Reductions: sum, mean, var, max/min (with and without dim)."""
import numpy as np

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
        return np.asarray(np.sum(a, axis=dims, keepdims=keepdim))

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
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.var(a, axis=dims, ddof=correction, keepdims=keepdim),
                              dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        if not ctx.keepdim and ctx.dims:
            g = np.expand_dims(g, ctx.dims)
        centered = a - a.mean(axis=ctx.dims, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (2.0 / ctx.denom) * centered * g, None, None, None


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
