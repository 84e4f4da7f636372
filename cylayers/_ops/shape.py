"""Shape and memory ops: views, indexing, casts, copies, concatenation."""
import numpy as np

from cylayers.autograd.function import Function
from cylayers._ops.arith import unbroadcast


class Reshape(Function):
    returns_view = True

    @staticmethod
    def forward(ctx, a, shape, must_view):
        ctx.in_shape = a.shape
        if must_view:
            out = a.view()
            try:
                out.shape = shape
            except AttributeError:
                raise RuntimeError(
                    "view size is not compatible with input tensor's size and stride (at least "
                    "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                    "instead.") from None
            return out
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None, None

    @classmethod
    def replay_on_array(cls, arr, shape, must_view):
        return arr.reshape(shape)  # arr's layout may differ from the original's: copying is fine


class Permute(Function):
    returns_view = True

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.dims)), None


class Expand(Function):
    returns_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape), None


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
               for i in items)


class GetItem(Function):
    returns_view = True

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        try:
            out = a[index]
            if not isinstance(out, np.ndarray):
                # numpy gives a scalar copy for a full integer index; PyTorch a 0-d view.
                out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
            return out
        except IndexError as e:
            raise IndexError(str(e)) from None

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        if _is_basic_index(ctx.index):
            out[ctx.index] = g
        else:
            np.add.at(out, ctx.index, g)  # repeated indices accumulate
        return out, None


class SetItem(Function):
    """target[index] = value, in place."""

    @staticmethod
    def forward(ctx, target, index, value):
        ctx.index = index
        ctx.value_shape = np.shape(value)
        target[index] = value
        return target

    @staticmethod
    def backward(ctx, g):
        n_target, _, n_value = ctx.needs_input_grad
        g_value = None
        if n_value:
            g_value = unbroadcast(np.asarray(g[ctx.index]), ctx.value_shape)
        g_target = None
        if n_target:
            g_target = np.array(g, copy=True)  # g may arrive as a numpy scalar (0-d)
            g_target[ctx.index] = 0
        return g_target, None, g_value


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        if ctx.in_dtype.kind != "f":
            return None, None
        return g.astype(ctx.in_dtype), None


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return np.array(a, order="C", copy=True)

    @staticmethod
    def backward(ctx, g):
        return g


class Fill(Function):
    @staticmethod
    def forward(ctx, target, value):
        target.fill(value)
        return target

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), None


class CopyInto(Function):
    @staticmethod
    def forward(ctx, target, src):
        ctx.src_shape, ctx.src_dtype = src.shape, src.dtype
        np.copyto(target, src, casting="unsafe")
        return target

    @staticmethod
    def backward(ctx, g):
        n_target, n_src = ctx.needs_input_grad
        g_src = unbroadcast(g, ctx.src_shape).astype(ctx.src_dtype) if n_src else None
        return (np.zeros_like(g) if n_target else None), g_src


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        cuts = np.cumsum(ctx.sizes)[:-1]
        return (None,) + tuple(np.split(g, cuts, axis=ctx.dim))


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None,) + tuple(np.moveaxis(g, ctx.dim, 0))
