"""Tensor factories with PyTorch's names, dtype defaults and keyword arguments."""
import numbers

import numpy as np

from cylayers import _dtype
from cylayers._ops import untaped
from cylayers._tensor_base import TensorBase, TracedInt, _shape_arg, trace_state
from cylayers.random import get_generator


def _infer_dtype(data):
    """PyTorch's inference: Python floats -> default float; ints -> int64; bools -> bool;
    numpy arrays keep their dtype."""
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return data.dtype
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return _dtype.default_float()
    if arr.dtype.kind in "iu":
        return np.dtype(np.int64)
    if arr.dtype.kind == "b":
        return np.dtype(np.bool_)
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _finish(arr, requires_grad):
    t = TensorBase._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """Copy ``data`` (nested lists, numbers, numpy arrays, Tensors) into a new Tensor."""
    if isinstance(data, TensorBase):
        data = data._array
    if isinstance(data, (list, tuple)) and any(isinstance(d, TensorBase) for d in data):
        data = [d._array if isinstance(d, TensorBase) else d for d in data]
    np_dtype = _dtype.to_numpy_dtype(dtype) if dtype is not None else _infer_dtype(data)
    return _finish(np.array(data, dtype=np_dtype, copy=True), requires_grad)


def as_tensor(data, dtype=None):
    if isinstance(data, TensorBase) and dtype is None:
        return data
    if isinstance(data, np.ndarray) and dtype is None:
        return TensorBase._make(data)
    return tensor(data, dtype=dtype)


def from_numpy(array):
    """A Tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return TensorBase._make(array)


def _float_dtype(dtype):
    return _dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.default_float()


def _follow_sizes(size, value, out):
    """While an exporter traces, a tensor whose size was read from another tensor is noted
    with that size, so the exported graph makes it at run time (ConstantOfShape)."""
    if trace_state.active is not None:
        spec = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) \
            else tuple(size)
        if any(isinstance(n, TracedInt) for n in spec):
            untaped.note(untaped.Filled, (spec, value), out)
    return out


def zeros(*size, dtype=None, requires_grad=False, device=None):
    return _follow_sizes(size, 0, _finish(np.zeros(_shape_arg(size), dtype=_float_dtype(dtype)),
                                          requires_grad))


def ones(*size, dtype=None, requires_grad=False, device=None):
    return _follow_sizes(size, 1, _finish(np.ones(_shape_arg(size), dtype=_float_dtype(dtype)),
                                          requires_grad))


def empty(*size, dtype=None, requires_grad=False, device=None):
    return _finish(np.empty(_shape_arg(size), dtype=_float_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None:
        dtype = _infer_dtype(fill_value)
    return _follow_sizes((size,), fill_value, _finish(
        np.full(_shape_arg((size,)), fill_value, dtype=_dtype.to_numpy_dtype(dtype)),
        requires_grad))


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    asked = (0, start, step) if end is None else (start, end, step)
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if is_int else _dtype.default_float()
    out = _finish(np.arange(start, end, step, dtype=_dtype.to_numpy_dtype(dtype)), requires_grad)
    if trace_state.active is not None and any(isinstance(v, TracedInt) for v in asked):
        untaped.note(untaped.Arange, asked, out)
    return out


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """PyTorch's points: the step in the output type (double for integer types), the first half
    counted up from start and the second down from end, then converted toward zero."""
    dt = _float_dtype(dtype)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    step_dt = np.dtype(np.float64) if dt.kind in "iub" else dt
    start_v, end_v = step_dt.type(start), step_dt.type(end)
    index = np.arange(steps)
    if steps == 1:
        values = np.full(1, start_v, dtype=step_dt)
    else:
        step = (end_v - start_v) / step_dt.type(steps - 1)
        up = start_v + step * index.astype(step_dt)
        down = end_v - step * (steps - 1 - index).astype(step_dt)
        values = np.where(index < steps // 2, up, down).astype(step_dt)
    if dt.kind in "iub":
        values = np.trunc(values)
    return _finish(values.astype(dt), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def randn(*size, dtype=None, requires_grad=False, generator=None, device=None):
    np_dtype = _float_dtype(dtype)
    gen = get_generator(generator)
    arr = gen.standard_normal(_shape_arg(size), dtype=np.float64).astype(np_dtype, copy=False) \
        if np_dtype not in (np.float32, np.float64) else \
        gen.standard_normal(_shape_arg(size), dtype=np_dtype)
    return _finish(arr, requires_grad)


def rand(*size, dtype=None, requires_grad=False, generator=None, device=None):
    np_dtype = _float_dtype(dtype)
    gen = get_generator(generator)
    return _finish(gen.random(_shape_arg(size), dtype=np_dtype), requires_grad)


def randint(low, high=None, size=None, generator=None, dtype=None, requires_grad=False,
            device=None):
    if size is None and isinstance(high, (tuple, list)):
        size, high = high, None  # torch.randint(high, size)
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    arr = get_generator(generator).integers(low, high, size=_shape_arg((size,)), dtype=np.int64)
    return _finish(arr.astype(_dtype.to_numpy_dtype(dtype or np.int64)), requires_grad)


def randperm(n, generator=None, dtype=None, device=None):
    return TensorBase._make(get_generator(generator).permutation(n).astype(
        _dtype.to_numpy_dtype(dtype or np.int64)))


def _like(fn):
    def like(input, dtype=None, requires_grad=False, device=None):
        d = dtype if dtype is not None else input._array.dtype
        return fn(*input._array.shape, dtype=d, requires_grad=requires_grad)
    like.__name__ = fn.__name__ + "_like"
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
randn_like = _like(randn)
rand_like = _like(rand)


def full_like(input, fill_value, dtype=None, requires_grad=False, device=None):
    return full(input._array.shape, fill_value, dtype=dtype or input._array.dtype,
                requires_grad=requires_grad)
