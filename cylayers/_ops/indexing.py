"""Gathering, scattering and rearranging ops: gather, index_select, masked_fill, repeat,
tril/triu, einsum."""
import numpy as np

from cylayers.autograd.function import Function


class Gather(Function):
    @staticmethod
    def forward(ctx, a, dim, index):
        if index.dtype.kind not in "iu":
            raise RuntimeError(f"gather(): Expected dtype int64 for index, got {index.dtype}")
        if index.ndim != a.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as input "
                               "tensor")
        if index.size and (index.min() < -a.shape[dim] or index.max() >= a.shape[dim]):
            raise RuntimeError(f"index {int(index.max())} is out of bounds for dimension {dim} "
                               f"with size {a.shape[dim]}")
        if any(i > s for d, (i, s) in enumerate(zip(index.shape, a.shape)) if d != dim):
            raise RuntimeError(f"Size does not match at dimension {dim}: expected index "
                               f"{list(index.shape)} to be no larger than self "
                               f"{list(a.shape)} apart from dimension {dim}")
        ctx.shape, ctx.dim, ctx.index = a.shape, dim, index
        # An index smaller than the input in other dimensions reads their leading part.
        part = a[tuple(slice(None) if d == dim else slice(0, n)
                       for d, n in enumerate(index.shape))]
        return np.take_along_axis(part, index, axis=dim)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        idx = np.indices(ctx.index.shape, sparse=True)
        idx = list(idx)
        idx[ctx.dim] = ctx.index
        np.add.at(out, tuple(idx), g)  # repeated indices accumulate
        return out, None, None


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, a, dim, index):
        if index.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        ctx.shape, ctx.dim, ctx.index = a.shape, dim, index
        return np.take(a, index, axis=dim)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        moved = np.moveaxis(out, ctx.dim, 0)
        np.add.at(moved, ctx.index, np.moveaxis(g, ctx.dim, 0))
        return out, None, None


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, a, mask, value):
        if mask.dtype != np.bool_:
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {mask.dtype}")
        value_arr = np.asarray(value)
        if value_arr.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value_arr.ndim} dimension(s).")
        ctx.mask, ctx.shape = mask, a.shape
        out = ctx.out if ctx.out is not None else a.copy()
        out[...] = np.where(mask, value_arr.astype(a.dtype), a)
        return out

    @staticmethod
    def backward(ctx, g):
        _, _, nv = ctx.needs_input_grad
        mask = np.broadcast_to(ctx.mask, ctx.shape)
        gv = np.asarray(g[mask].sum(), dtype=g.dtype) if nv else None
        return np.where(mask, 0, g), None, gv


class Repeat(Function):
    @staticmethod
    def forward(ctx, a, repeats):
        if len(repeats) < a.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                               "number of dimensions of tensor")
        ctx.shape = (1,) * (len(repeats) - a.ndim) + a.shape
        ctx.in_shape, ctx.repeats = a.shape, repeats
        return np.tile(a.reshape(ctx.shape), repeats)

    @staticmethod
    def backward(ctx, g):
        # Split every axis into (repeat, size) and sum the repeats away.
        split = []
        for r, s in zip(ctx.repeats, ctx.shape):
            split += [r, s]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g.reshape(ctx.in_shape), None


class Triangle(Function):
    """tril (upper=False) / triu (upper=True) of the last two dims."""

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        if a.ndim < 2:
            raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least "
                               "2 dimensions")
        ctx.diagonal, ctx.upper = diagonal, upper
        out = (np.triu if upper else np.tril)(a, diagonal)
        if ctx.out is not None:
            np.copyto(ctx.out, out)
            return ctx.out
        return out

    @staticmethod
    def backward(ctx, g):
        return (np.triu if ctx.upper else np.tril)(g, ctx.diagonal), None, None


class Einsum(Function):
    """einsum; each operand's gradient is another einsum of the output gradient with the other
    operands, broadcast over the letters that only that operand had (they were summed away) and
    written onto the diagonal where a letter repeats within the operand ('ii->i'). An ellipsis
    is spelled out in letters by cylayers.einsum before this op sees the equation."""

    @staticmethod
    def forward(ctx, equation, *operands):
        equation = equation.replace(" ", "")
        if "." in equation:
            raise NotImplementedError("einsum: an ellipsis reaches the op unexpanded")
        if "->" in equation:
            inputs, output = equation.split("->")
        else:  # implicit output: the letters seen once, in alphabetical order
            inputs = equation
            letters = inputs.replace(",", "")
            output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        ctx.inputs, ctx.output = inputs.split(","), output
        if len(ctx.inputs) != len(operands):
            raise RuntimeError(f"einsum(): {len(ctx.inputs)} operands in the equation, "
                               f"{len(operands)} given")
        ctx.shapes = [o.shape for o in operands]
        ctx.save_for_backward(*operands)
        return np.asarray(np.einsum(inputs + "->" + output, *operands,
                                    optimize=len(operands) > 2))

    @staticmethod
    def backward(ctx, g):
        operands = ctx.saved_tensors
        grads = [None]
        for i, (subs, shape) in enumerate(zip(ctx.inputs, ctx.shapes)):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(ctx.inputs) if j != i]
            arrays = [o for j, o in enumerate(operands) if j != i]
            present = set(ctx.output).union(*map(set, others))
            unique = "".join(dict.fromkeys(subs))  # letters in order of first appearance
            size = {c: n for c, n in zip(subs, shape)}
            kept = "".join(c for c in unique if c in present)
            eq = ",".join([ctx.output] + others) + "->" + kept
            partial = np.einsum(eq, g, *arrays, optimize=len(arrays) > 1)
            for axis, c in enumerate(unique):
                if c not in present:
                    partial = np.expand_dims(partial, axis)
            partial = np.broadcast_to(partial, tuple(size[c] for c in unique))
            if len(unique) == len(subs):
                grads.append(partial.astype(g.dtype, copy=True))
                continue
            # a repeated letter: the gradient lives on the diagonal, zero elsewhere
            grid = {c: np.arange(size[c]).reshape([-1 if k == j else 1
                                                   for k in range(len(unique))])
                    for j, c in enumerate(unique)}
            grad = np.zeros(shape, dtype=g.dtype)
            grad[tuple(grid[c] for c in subs)] = partial
            grads.append(grad)
        return tuple(grads)
