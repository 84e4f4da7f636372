"""Writes at indices, with PyTorch's gradients: scatter / scatter_add / scatter_reduce,
index_add / index_copy / index_fill, masked_scatter, and the running max / min (cummax,
cummin). An index may be smaller than its source in every dimension: only its positions are
read (PyTorch's rule)."""
import numpy as np

from cylayers._ops.promotion import convert
from cylayers.autograd.function import Function


def _check_index(name, a, dim, index):
    if np.asarray(index).dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")
    if index.ndim != a.ndim and not (index.ndim == 0 and a.ndim == 0):
        raise RuntimeError(f"{name}(): Index tensor must have the same number of dimensions as "
                           "self tensor")
    for d in range(index.ndim):
        if d != dim and index.shape[d] > a.shape[d]:
            raise RuntimeError(f"{name}(): Expected index {tuple(index.shape)} to be smaller "
                               f"than self {tuple(a.shape)} apart from dimension {dim}")
    if index.size and (index.min() < -a.shape[dim] or index.max() >= a.shape[dim]):
        bad = int(index.max() if index.max() >= a.shape[dim] else index.min())
        raise RuntimeError(f"{name}(): index {bad} is out of bounds for dimension {dim} with "
                           f"size {a.shape[dim]}")


def _coords(index, dim):
    """Where each element of index writes: index's own position, with dim replaced."""
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index
    return tuple(coords)


def _source_part(src, index):
    """The part of src at index's positions (src may be larger in every dimension)."""
    return src[tuple(slice(0, n) for n in index.shape)]


class Scatter(Function):
    """out = a; out[coords(index)] = src (a tensor, or a number when src_is_value); with
    reduce 'add' / 'multiply' (scatter's old keyword) the writes combine instead."""

    @staticmethod
    def forward(ctx, a, dim, index, src, reduce):
        _check_index("scatter", a, dim, index)
        values = np.asarray(src, dtype=a.dtype)
        if values.ndim:
            if values.ndim != index.ndim or any(i > s for i, s in zip(index.shape, values.shape)):
                raise RuntimeError("scatter(): Expected index to be smaller than src apart "
                                   "from nothing")
            values = _source_part(values, index)
        out = a.copy() if ctx.out is None else ctx.out
        where = _coords(index, dim)
        if reduce is None:
            out[where] = values
        elif reduce == "add":
            np.add.at(out, where, np.broadcast_to(values, index.shape))
        elif reduce == "multiply":
            np.multiply.at(out, where, np.broadcast_to(values, index.shape))
        else:
            raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
        ctx.dim, ctx.index, ctx.reduce = dim, index, reduce
        ctx.src_shape = np.shape(src)
        return out

    @staticmethod
    def backward(ctx, g):
        if ctx.reduce == "multiply":
            raise RuntimeError("the derivative of scatter with reduce='multiply' is not "
                               "implemented (as in PyTorch)")
        where = _coords(ctx.index, ctx.dim)
        ga = g
        if ctx.reduce is None:
            ga = g.copy()
            ga[where] = 0
        gsrc = None
        if ctx.needs_input_grad[3] and ctx.src_shape:
            gsrc = np.zeros(ctx.src_shape, dtype=g.dtype)
            gsrc[tuple(slice(0, n) for n in ctx.index.shape)] = g[where]
        return ga, None, None, gsrc, None


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, a, dim, index, src):
        _check_index("scatter_add", a, dim, index)
        if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
            raise RuntimeError("scatter_add(): Expected index to be smaller than src")
        out = a.copy() if ctx.out is None else ctx.out
        np.add.at(out, _coords(index, dim), _source_part(src, index).astype(a.dtype))
        ctx.dim, ctx.index, ctx.src_shape = dim, index, src.shape
        return out

    @staticmethod
    def backward(ctx, g):
        gsrc = None
        if ctx.needs_input_grad[3]:
            gsrc = np.zeros(ctx.src_shape, dtype=g.dtype)
            gsrc[tuple(slice(0, n) for n in ctx.index.shape)] = g[_coords(ctx.index, ctx.dim)]
        return g, None, None, gsrc


def _index_vector(name, a, dim, index):
    index = np.asarray(index)
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    if index.dtype.kind not in "iu":
        raise IndexError(f"{name}(): Expected dtype int32/int64 for index")
    index = index.reshape(-1).astype(np.int64)
    n = a.shape[dim] if a.ndim else 1
    if index.size and (index.min() < -n or index.max() >= n):
        raise IndexError(f"{name}(): index out of range in self")
    return index


def _along(dim, index, ndim):
    where = [slice(None)] * ndim
    where[dim] = index
    return tuple(where)


class IndexAdd(Function):
    """out = a; out[..., index[i], ...] += alpha * source[..., i, ...] along dim."""

    @staticmethod
    def forward(ctx, a, dim, index, source, alpha):
        index = _index_vector("index_add", a, dim, index)
        if source.shape[dim if source.ndim else 0:dim + 1] != (index.size,) and source.ndim:
            raise RuntimeError(f"index_add(): Number of indices ({index.size}) should be equal "
                               f"to source.size(dim) ({source.shape[dim]})")
        out = a.copy() if ctx.out is None else ctx.out
        np.add.at(out, _along(dim, index, a.ndim), (source * alpha).astype(a.dtype))
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        return out

    @staticmethod
    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[3]:
            gs = np.take(g, ctx.index, axis=ctx.dim) * ctx.alpha
        return g, None, None, gs, None


class IndexWrite(Function):
    """index_copy (``values`` a tensor, one slice per index) and index_fill (a number): the
    indexed slices along dim are overwritten, so their gradient is zero; a source tensor gets
    the gradient of the slices it wrote."""

    @staticmethod
    def forward(ctx, a, dim, index, values, name):
        index = _index_vector(name, a, dim, index)
        out = a.copy() if ctx.out is None else ctx.out
        out[_along(dim, index, a.ndim)] = values if isinstance(values, np.ndarray) else \
            convert(values, a.dtype)  # a number wraps into an integer dtype, as in PyTorch
        ctx.dim, ctx.index = dim, index
        return out

    @staticmethod
    def backward(ctx, g):
        ga = g.copy()
        ga[_along(ctx.dim, ctx.index, g.ndim)] = 0
        gs = np.take(g, ctx.index, axis=ctx.dim) if ctx.needs_input_grad[3] else None
        return ga, None, None, gs, None


class MaskedScatter(Function):
    """out = a, with the positions where mask is True taken from source in order."""

    @staticmethod
    def forward(ctx, a, mask, source):
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), a.shape)
        count = int(mask.sum())
        if source.size < count:
            raise RuntimeError("masked_scatter: expected source to have at least as many "
                               f"elements as ones in mask ({count}), got {source.size}")
        out = a.copy() if ctx.out is None else ctx.out
        out[mask] = source.reshape(-1)[:count]
        ctx.mask, ctx.count, ctx.source_shape = mask, count, source.shape
        return out

    @staticmethod
    def backward(ctx, g):
        ga = np.where(ctx.mask, 0, g).astype(g.dtype)
        gs = None
        if ctx.needs_input_grad[2]:
            gs = np.zeros(int(np.prod(ctx.source_shape)), dtype=g.dtype)
            gs[:ctx.count] = g[ctx.mask]
            gs = gs.reshape(ctx.source_shape)
        return ga, None, gs


class CumExtremum(Function):
    """cummax / cummin along dim: the running values, and the index where each was last
    reached (PyTorch's: a tie moves the index forward; NaN sticks). The gradient goes to that
    index."""

    @staticmethod
    def forward(ctx, a, dim, take_max):
        x = np.moveaxis(a, dim, -1)
        values = np.empty_like(x)
        indices = np.empty(x.shape, dtype=np.int64)
        if x.shape[-1]:
            best = x[..., 0].copy()
            at = np.zeros(x.shape[:-1], dtype=np.int64)
            values[..., 0], indices[..., 0] = best, at
            for j in range(1, x.shape[-1]):
                v = x[..., j]
                # PyTorch's rule: once NaN, stays; a NaN or a tie takes over
                better = ~np.isnan(best) & (np.isnan(v) | ((v >= best) if take_max
                                                            else (v <= best)))
                best = np.where(better, v, best)
                at = np.where(better, j, at)
                values[..., j], indices[..., j] = best, at
        ctx.dim, ctx.shape = dim, a.shape
        ctx.indices = np.moveaxis(indices, -1, dim)
        return np.moveaxis(values, -1, dim)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, _coords(ctx.indices, ctx.dim), g)
        return out, None, None


class Unfold(Function):
    """Tensor.unfold(dimension, size, step): every window of ``size`` along ``dim`` taken at
    ``step``, as a new last dimension; the gradient adds each window back where it came from."""

    @staticmethod
    def forward(ctx, a, dim, size, step):
        n = a.shape[dim] if a.ndim else 1
        if size > n:
            raise RuntimeError(f"maximum size for tensor at dimension {dim} is {n} but size is "
                               f"{size}")
        if step <= 0:
            raise RuntimeError(f"step is {step} but must be > 0")
        if a.ndim == 0:
            ctx.shape, ctx.dim, ctx.size, ctx.step = a.shape, dim, size, step
            return a.reshape(1)
        windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=dim)
        taken = [slice(None)] * a.ndim
        taken[dim] = slice(None, None, step)
        ctx.shape, ctx.dim, ctx.size, ctx.step = a.shape, dim, size, step
        return np.ascontiguousarray(windows[tuple(taken)])

    @staticmethod
    def backward(ctx, g):
        if not ctx.shape:
            return g.reshape(()), None, None, None
        out = np.zeros(ctx.shape, dtype=g.dtype)
        count = g.shape[ctx.dim]
        starts = np.arange(count) * ctx.step
        moved_out = np.moveaxis(out, ctx.dim, 0)  # a view: writes land in out
        moved_g = np.moveaxis(g, ctx.dim, 0)      # (count, ..., size)
        for k in range(ctx.size):
            np.add.at(moved_out, starts + k, moved_g[..., k])
        return out, None, None, None


class ScatterReduce(Function):
    """scatter_reduce with 'prod', 'mean', 'amax', 'amin' (sum goes through ScatterAdd):
    every position of ``a`` that index writes to combines its own value (include_self) with
    the src values written there. Gradients are PyTorch's: a product's to each factor is the
    product of the others (exact with zeros), a mean's is shared by the count, and an extremum's
    is split evenly between the contributors equal to it."""

    _IDENTITY = {"prod": 1, "mean": 0, "amax": -np.inf, "amin": np.inf}
    _UFUNC = {"prod": np.multiply, "mean": np.add, "amax": np.maximum, "amin": np.minimum}

    @staticmethod
    def forward(ctx, a, dim, index, src, reduce, include_self):
        _check_index("scatter_reduce", a, dim, index)
        where = _coords(index, dim)
        values = _source_part(np.asarray(src), index).astype(a.dtype)
        touched = np.zeros(a.shape, dtype=bool)
        touched[where] = True
        out = a.copy()
        if not include_self:
            identity = ScatterReduce._IDENTITY[reduce]
            if out.dtype.kind != "f" and reduce in ("amax", "amin"):
                info = np.iinfo(out.dtype) if out.dtype != np.bool_ else None
                identity = (info.min if reduce == "amax" else info.max) if info else \
                    reduce == "amin"
            out[touched] = identity
        ScatterReduce._UFUNC[reduce].at(out, where, values)
        count = np.zeros(a.shape, dtype=np.int64) + (1 if include_self else 0)
        np.add.at(count, where, 1)
        if reduce == "mean":
            safe = np.maximum(count, 1)
            out = np.where(touched, out / safe if out.dtype.kind == "f" else out // safe, out)
        out = out.astype(a.dtype, copy=False)
        ctx.reduce, ctx.include_self, ctx.where, ctx.touched = reduce, include_self, where, touched
        ctx.src_shape, ctx.index_shape = np.shape(src), index.shape
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(a, values, out, count)
        return out

    @staticmethod
    def backward(ctx, g):
        a, values, out, count = ctx.saved_tensors
        where, touched, reduce = ctx.where, ctx.touched, ctx.reduce
        self_counts = ctx.include_self | ~touched  # positions where a's own value took part
        if reduce == "mean":
            share = g / np.maximum(count, 1)
            ga = np.where(touched, np.where(self_counts, share, 0), g)
            g_src = share[where]
        elif reduce == "prod":
            # product of the others: result / x, or, where the factors hold zeros, the product
            # of the nonzero ones for the single zero (0 for every factor if two are zero)
            zeros = np.zeros(a.shape, dtype=np.int64) + (self_counts & (a == 0))
            np.add.at(zeros, where, values == 0)
            nonzero = np.where(self_counts & (a != 0), a, 1).astype(a.dtype)
            np.multiply.at(nonzero, where, np.where(values == 0, 1, values))

            def others(x, z, nz, res):
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.where(z == 0, res / np.where(x == 0, 1, x),
                                    np.where((z == 1) & (x == 0), nz, 0))
            ga = np.where(touched, np.where(self_counts, g * others(a, zeros, nonzero, out), 0),
                          g)
            g_src = g[where] * others(values, zeros[where], nonzero[where], out[where])
        else:  # amax / amin: split between the contributors equal to the result
            ties = np.zeros(a.shape, dtype=np.int64) + (self_counts & (a == out))
            np.add.at(ties, where, values == out[where])
            share = g / np.maximum(ties, 1)
            ga = np.where(touched, np.where(self_counts & (a == out), share, 0), g)
            g_src = np.where(values == out[where], share[where], 0)
        gs = None
        if ctx.needs_input_grad[3]:
            gs = np.zeros(ctx.src_shape, dtype=g.dtype)
            gs[tuple(slice(0, n) for n in ctx.index_shape)] = g_src
        return ga.astype(g.dtype, copy=False), None, None, gs, None, None
