"""torch.* style free functions that mirror Tensor methods."""
import builtins

import numpy as np

from cylayers import _dtype
from cylayers._tensor_base import TensorBase, _norm_dim
from cylayers._ops import indexing, promotion, shape as shape_ops
from cylayers._tensor_arithmetic import _where
from cylayers.random import get_generator


def _as_tensor(x):
    return x if isinstance(x, TensorBase) else TensorBase._make(np.asarray(x))


def cat(tensors, dim=0):
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    d = _norm_dim(dim, tensors[0]._array.ndim)
    try:
        return shape_ops.Cat.apply(d, *tensors)
    except ValueError as e:
        raise RuntimeError(f"cat(): {e}") from None


concat = cat


def stack(tensors, dim=0):
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = _norm_dim(dim, tensors[0]._array.ndim + 1)
    try:
        return shape_ops.Stack.apply(d, *tensors)
    except ValueError as e:
        raise RuntimeError(f"stack(): {e}") from None


def where(condition, input=None, other=None):
    """where(cond, x, y) picks elementwise; where(cond) alone is nonzero(cond, as_tuple=True)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return _where(condition, input, other)


def nonzero(input, *, as_tuple=False):
    arr = input._array if isinstance(input, TensorBase) else np.asarray(input)
    if as_tuple:
        return tuple(TensorBase._make(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(arr)))
    return TensorBase._make(np.argwhere(arr).astype(np.int64))


def pow(input, exponent):
    """input ** exponent, where either may be a Python number (torch.pow(2, x) included)."""
    if isinstance(input, TensorBase):
        return input ** exponent
    return _as_tensor(exponent).__rpow__(input)


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = [_as_tensor(o) for o in operands]
    equation = equation.replace(" ", "")
    if "..." in equation:
        equation, operands = _spell_out_ellipsis(equation, operands)
    return indexing.Einsum.apply(equation, *operands)


def _spell_out_ellipsis(equation, operands):
    """'...' as letters of their own, the operands expanded to the broadcast sizes of those
    dimensions (expand is on the tape: broadcast dimensions get their gradients summed)."""
    inputs, arrow, output = equation.partition("->")
    subs = inputs.split(",")
    if len(subs) != len(operands):
        raise RuntimeError(f"einsum(): {len(subs)} operands in the equation, {len(operands)} "
                           "given")
    counts = []
    for s, op in zip(subs, operands):
        named = len(s.replace("...", ""))
        counts.append(op.ndim - named if "..." in s else 0)
        if "..." in s and counts[-1] < 0:
            raise RuntimeError(f"einsum(): the subscript {s!r} names more dimensions than the "
                               f"operand's {op.ndim}")
    n = builtins.max(counts)  # (this module's max is the tensor op)
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            if c not in equation][:n]
    if len(free) < n:
        raise RuntimeError("einsum(): too many dimensions under '...'")
    shapes = [tuple(op.shape[s.index("..."):s.index("...") + k]) if "..." in s else ()
              for s, op, k in zip(subs, operands, counts)]
    try:
        full = np.broadcast_shapes(*[(1,) * (n - len(sh)) + sh for sh in shapes])
    except ValueError:
        raise RuntimeError(f"einsum(): the dimensions under '...' do not broadcast: "
                           f"{shapes}") from None
    new_subs, new_ops = [], []
    for s, op, k in zip(subs, operands, counts):
        if "..." not in s:
            new_subs.append(s)
            new_ops.append(op)
            continue
        letters = "".join(free[n - k:])
        # the full-rank ellipsis letters only where this operand has fewer (broadcast) dims
        head, tail = s.split("...")
        if k < n:
            target = list(op.shape[:len(head)]) + list(full[n - k:]) + \
                list(op.shape[len(head) + k:])
        else:
            target = list(op.shape[:len(head)]) + list(full) + list(op.shape[len(head) + k:])
        if tuple(target) != tuple(op.shape):
            op = op.expand(*target)
        new_subs.append(head + letters + tail)
        new_ops.append(op)
    letters_all = "".join(free)
    if arrow:
        out = output.replace("...", letters_all)
    else:  # implicit: the ellipsis dimensions first, then the letters seen once
        joined = "".join(new_subs)
        out = letters_all + "".join(sorted(c for c in set(inputs.replace("...", "").replace(
            ",", "")) if joined.count(c) == 1))
    return ",".join(new_subs) + "->" + out, new_ops


def atan2(input, other):
    return _as_tensor(input).atan2(other)


arctan2 = atan2


def logaddexp(input, other):
    return _as_tensor(input).logaddexp(other)


def xlogy(input, other):
    return _as_tensor(input).xlogy(other)


def lerp(input, end, weight):
    return input.lerp(end, weight)


def matmul(a, b):
    return a @ b


mm = matmul


def outer(input, vec2):
    """The outer product of two 1-D tensors: out[i, j] = input[i] * vec2[j]."""
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, got {input.dim()}-D and "
                           f"{vec2.dim()}-D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (views that expand each one); 'ij' or 'xy' order."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                         f"received: {indexing}")
    if builtins.any(t.dim() > 1 for t in tensors):
        raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list")
    tensors = [t.reshape(-1) for t in tensors]
    shape = [t.shape[0] for t in tensors]
    grids = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[i] = shape[i]
        grids.append(t.view(view).expand(shape))
    if indexing == "xy" and len(tensors) >= 2:  # the first two axes swapped
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def tensordot(a, b, dims=2):
    """Sum over the last ``dims`` axes of a and the first of b, or over the listed pairs."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    dims_a = [_norm_dim(d, a.dim()) for d in dims_a]
    dims_b = [_norm_dim(d, b.dim()) for d in dims_b]
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[da]} in dim {da} and second has size {b.shape[db]} "
                               f"in dim {db}")
    free_a = [d for d in range(a.dim()) if d not in dims_a]
    free_b = [d for d in range(b.dim()) if d not in dims_b]
    k = int(np.prod([a.shape[d] for d in dims_a]))
    left = a.permute(*free_a, *dims_a).reshape(-1, k)
    right = b.permute(*dims_b, *free_b).reshape(k, -1)
    return (left @ right).reshape(*[a.shape[d] for d in free_a], *[b.shape[d] for d in free_b])


def cdist(x1, x2, p=2.0, compute_mode=None):
    """p-norm distances between the rows of x1 (..., P, M) and of x2 (..., R, M)."""
    if x1.dim() < 2 or x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p, dim=-1)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Insertion indices of ``input`` into ``sorted_sequence`` (its last dimension)."""
    seq = sorted_sequence._array
    values = input._array if isinstance(input, TensorBase) else np.asarray(input)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"side can only be 'left' or 'right' but got {side}")
        right = side == "right"
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._array, axis=-1)
    how = "right" if right else "left"
    if seq.ndim <= 1:
        out = np.searchsorted(seq, values, side=how)
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or "
                               "the first N-1 dimensions of boundaries tensor and input value "
                               "tensor must match")
        flat_s, flat_v = seq.reshape(-1, seq.shape[-1]), values.reshape(-1, values.shape[-1])
        out = np.stack([np.searchsorted(r, v, side=how) for r, v in zip(flat_s, flat_v)])
        out = out.reshape(values.shape)
    return TensorBase._make(np.asarray(out, dtype=np.int32 if out_int32 else np.int64))


def histc(input, bins=100, min=0, max=0):
    """Counts in ``bins`` equal-width bins over [min, max] (the data's range when both are 0;
    widened by 1 each side when that range is a point); values outside and NaN are skipped.
    The bin index is computed as PyTorch does, (x - min) * bins / (max - min) in the input's
    type, so values on a bin edge land where PyTorch puts them."""
    x = input._array
    if x.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the "
                           f"same dtype, but got input {input.dtype}")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    if lo == hi and x.size:
        finite = x[np.isfinite(x)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (lo, hi)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    t = x.dtype.type
    flat = x.reshape(-1)
    inside = flat[(flat >= t(lo)) & (flat <= t(hi))]
    pos = ((inside - t(lo)) * t(bins) / (t(hi) - t(lo))).astype(np.int64)
    pos[pos == bins] = bins - 1
    return TensorBase._make(np.bincount(pos, minlength=bins).astype(x.dtype))


def maximum(input, other):
    return _as_tensor(input).maximum(other)


def minimum(input, other):
    return _as_tensor(input).minimum(other)


def _method(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"Same as ``input.{name}(...)``."
    return fn


# torch.f(x, ...) for every one of these is x.f(...).
_METHOD_FUNCTIONS = (
    "exp", "log", "sqrt", "rsqrt", "abs", "absolute", "clamp", "clip", "sum", "mean", "var",
    "std", "max", "min", "argmax", "argmin", "flatten", "reshape", "squeeze", "unsqueeze",
    "transpose", "permute", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "square",
    "sign", "neg", "negative", "add", "sub", "mul", "div", "isnan", "isinf", "isposinf",
    "isneginf", "isfinite", "all", "any", "prod", "clone", "t", "numel", "equal", "allclose",
    "unflatten", "sin", "cos", "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan",
    "sinh", "cosh", "asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "exp2",
    "expm1", "log2", "log10", "log1p", "reciprocal", "erf", "frac", "floor", "ceil", "round",
    "trunc", "fix", "fmod", "remainder", "nan_to_num", "eq", "ne", "lt", "le", "gt", "ge",
    "greater", "greater_equal", "less", "less_equal", "not_equal", "logical_and", "logical_or",
    "logical_xor", "logical_not", "logsumexp", "amax", "amin", "median", "mode", "chunk",
    "split", "masked_fill", "topk", "sort", "argsort", "msort", "kthvalue", "bmm", "gather",
    "index_select", "cumsum", "norm", "tril", "triu", "relu_", "sigmoid_", "tanh_",
    "exp_", "sin_", "cos_", "sqrt_", "abs_", "neg_", "floor_", "ceil_", "round_", "trunc_",
    "clamp_", "nan_to_num_", "narrow", "unbind", "flip", "roll", "count_nonzero",
    "repeat_interleave", "diff", "bincount", "unique", "cumprod", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "scatter",
    "scatter_add", "scatter_reduce", "index_add", "index_copy", "index_fill", "masked_scatter",
    "cummax", "cummin", "logcumsumexp", "masked_select", "diagonal", "trace", "diag",
    "diag_embed", "copysign", "div", "divide", "true_divide", "floor_divide", "isclose",
    "argwhere", "std_mean", "var_mean",
)
def _operand(x):
    return x._array if isinstance(x, TensorBase) else x


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return input.allclose(other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """num_samples draws of category indices from each row of non-negative weights."""
    probs = np.asarray(input._array if isinstance(input, TensorBase) else input, dtype=np.float64)
    if probs.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if (probs < 0).any() or not np.isfinite(probs).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = probs.reshape(-1, probs.shape[-1])
    if (rows.sum(axis=1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    gen = get_generator(generator)
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for r, w in enumerate(rows):
        if not replacement and np.count_nonzero(w) < num_samples:
            raise RuntimeError("invalid multinomial distribution (with replacement=False, not "
                               "enough non-negative category to sample)")
        out[r] = gen.choice(w.size, size=num_samples, replace=replacement, p=w / w.sum())
    return TensorBase._make(out.reshape(probs.shape[:-1] + (num_samples,)))


def result_type(tensor, other):
    """The dtype an arithmetic op over ``tensor`` and ``other`` (tensors or numbers) returns, by
    PyTorch's promotion: a lower class (0-d tensor, number) matters only through a higher
    category."""
    return _dtype.to_cylayers_dtype(promotion.result_dtype(_operand(tensor), _operand(other)))


def promote_types(type1, type2):
    """The smallest dtype both promote to (an integer meets a float as that float)."""
    return _dtype.to_cylayers_dtype(promotion.promote_types(_dtype.to_numpy_dtype(type1),
                                                            _dtype.to_numpy_dtype(type2)))


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` -> ``to`` in an op's output: not from
    float to integer or bool, not from an integer to bool, not from complex to real."""
    a, b = (promotion.category(_dtype.to_numpy_dtype(d)) for d in (from_, to))
    return a <= b


for _name in _METHOD_FUNCTIONS:
    globals()[_name] = _method(_name)

__all__ = ["cat", "concat", "stack", "where", "nonzero", "pow", "einsum", "atan2", "arctan2",
           "logaddexp", "xlogy", "lerp", "matmul", "mm", "outer", "ger", "meshgrid", "tensordot",
           "cdist", "searchsorted", "histc", "maximum", "minimum", "result_type", "promote_types",
           "can_cast", "allclose", "multinomial",
           *dict.fromkeys(_METHOD_FUNCTIONS)]
