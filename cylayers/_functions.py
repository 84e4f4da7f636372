"""torch.* style free functions that mirror Tensor methods."""
import numpy as np

from cylayers._tensor import Tensor, _norm_dim
from cylayers._ops import arith, shape as shape_ops


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


def where(condition, input, other):
    cond = condition._array if isinstance(condition, Tensor) else np.asarray(condition)
    return arith.Where.apply(cond.astype(bool, copy=False), input, other)


def matmul(a, b):
    return a @ b


mm = matmul


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


for _name in ("exp", "log", "sqrt", "rsqrt", "abs", "clamp", "clip", "sum", "mean", "var", "std",
              "max", "min", "argmax", "argmin", "flatten", "reshape", "squeeze", "unsqueeze",
              "transpose", "permute", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
              "square", "sign", "neg", "add", "sub", "mul", "div", "pow", "isnan", "isfinite",
              "all", "any", "prod", "clone", "t", "numel", "equal", "allclose", "unflatten"):
    globals()[_name] = _method(_name)

__all__ = ["cat", "concat", "stack", "where", "matmul", "mm", "maximum", "minimum", "exp", "log",
           "sqrt", "rsqrt", "abs", "clamp", "clip", "sum", "mean", "var", "std", "max", "min",
           "argmax", "argmin", "flatten", "reshape", "squeeze", "unsqueeze", "transpose",
           "permute", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "square", "sign",
           "neg", "add", "sub", "mul", "div", "pow", "isnan", "isfinite", "all", "any", "prod",
           "clone", "t", "numel", "equal", "allclose", "unflatten"]
