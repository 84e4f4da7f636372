"""torch.* style free functions that mirror Tensor methods."""
import numpy as np

from cylayers._tensor import Tensor, _norm_dim
from cylayers._ops import arith, indexing, shape as shape_ops
from cylayers._tensor_methods import _where


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x))


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
    arr = input._array if isinstance(input, Tensor) else np.asarray(input)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(arr)))
    return Tensor._make(np.argwhere(arr).astype(np.int64))


def pow(input, exponent):
    """input ** exponent, where either may be a Python number (torch.pow(2, x) included)."""
    if isinstance(input, Tensor):
        return input ** exponent
    return _as_tensor(exponent).__rpow__(input)


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return indexing.Einsum.apply(equation, *[_as_tensor(o) for o in operands])


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


def maximum(a, b):
    return arith.Where.apply(a._array >= b._array, a, b)


def minimum(a, b):
    return arith.Where.apply(a._array <= b._array, a, b)


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
)
for _name in _METHOD_FUNCTIONS:
    globals()[_name] = _method(_name)

__all__ = ["cat", "concat", "stack", "where", "nonzero", "pow", "einsum", "atan2", "arctan2",
           "logaddexp", "xlogy", "lerp", "matmul", "mm", "outer", "ger", "maximum", "minimum",
           *dict.fromkeys(_METHOD_FUNCTIONS)]
