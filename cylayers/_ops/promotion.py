"""PyTorch's type promotion (``torch.result_type``), where it differs from numpy's.

Operands rank in three classes: tensors with dimensions, zero-dimensional tensors, and plain
numbers (Python's, numpy's scalars). A lower class changes the result only when its category
(bool < integer < floating < complex) is higher than every operand of the classes above: a
float32 tensor stays float32 next to ``np.float64(2)`` or ``tensor(1.0, dtype=float64)``, an
int32 tensor stays int32 next to an int64 0-d tensor, and an integer tensor meets a Python float
as the default float dtype. numpy (NEP 50) lets numpy scalars and 0-d arrays widen the result."""
import numpy as np

from cylayers import _dtype
from cylayers._tensor_types import scalar_type_name

_BOOL, _INT, _FLOAT, _COMPLEX = range(4)


def category(dt):
    kind = dt.kind
    return _BOOL if kind == "b" else _INT if kind in "iu" else _FLOAT if kind == "f" else _COMPLEX


def _number_dtype(x):
    """The dtype a plain number takes part as: its category's default."""
    if isinstance(x, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(x, (int, np.integer)):
        return np.dtype(np.int64)
    if isinstance(x, (float, np.floating)):
        return _dtype.default_float()
    if isinstance(x, (complex, np.complexfloating)):
        return np.dtype(np.complex128 if _dtype.default_float() == np.float64 else np.complex64)
    raise TypeError(f"unsupported operand type {type(x).__name__}")


def promote_types(a, b):
    """torch.promote_types: like numpy's, except that an integer meets a float as that float
    (numpy widens int32 + float32 to float64, and int16 + float16 to float32)."""
    a, b = np.dtype(a), np.dtype(b)
    ca, cb = category(a), category(b)
    if ca != cb and max(ca, cb) >= _FLOAT and min(ca, cb) <= _INT:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _merge(state, dt):
    return dt if state is None else promote_types(state, dt)


def _combine(higher, lower):
    """One class's result against the classes below it (c10's combine_categories)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    ch, cl = category(higher), category(lower)
    if ch == _COMPLEX:
        return higher
    if cl == _COMPLEX:
        if ch == _FLOAT:
            return np.promote_types(higher, np.complex64)
        return lower
    if ch == _FLOAT:
        return higher
    if ch == _BOOL or cl == _FLOAT:
        return promote_types(higher, lower)
    return higher


def result_dtype(*operands):
    """The numpy dtype PyTorch gives an op over these operands: ndarrays (a tensor's data; a
    0-d array is a zero-dimensional tensor) and plain numbers."""
    dims = zero = numbers = None
    for x in operands:
        if isinstance(x, np.ndarray):
            if x.ndim:
                dims = _merge(dims, x.dtype)
            else:
                zero = _merge(zero, x.dtype)
        elif x is not None:
            numbers = _merge(numbers, _number_dtype(x))
    return _combine(dims, _combine(zero, numbers))


def convert(x, dt):
    """An operand in the result dtype ``dt``: arrays cast, numbers kept (or wrapped into an
    integer dtype)."""
    if isinstance(x, np.ndarray):
        return x if x.dtype == dt else x.astype(dt)
    # A Python number is "weak" in numpy (NEP 50): it takes the array's dtype, as here.
    x = x.item() if isinstance(x, np.generic) else x
    if dt.kind in "iu" and type(x) is int and not _fits(x, dt):
        # PyTorch converts the number to the integer dtype, wrapping around (uint8 + -3 adds
        # 253); numpy refuses an out-of-range Python integer (OverflowError)
        return np.array(x).astype(dt)[()]
    return x


def _fits(x, dt):
    info = np.iinfo(dt)
    return info.min <= x <= info.max


_PLAIN_NUMBERS = (float, int, bool)


def check_in_place_cast(result_dtype, target_dtype):
    """PyTorch's rule for storing an in-place op's result in its tensor: refused when the
    result's category is above the tensor's (float into an integer tensor, integer into bool)."""
    if category(np.dtype(result_dtype)) > category(np.dtype(target_dtype)):
        raise RuntimeError(f"result type {scalar_type_name(result_dtype)} can't be cast to the "
                           f"desired output type {scalar_type_name(target_dtype)}")


def promote(a, b):
    """a and b with their arrays converted to the PyTorch result dtype (numbers stay Python
    numbers, which numpy then computes in that dtype). Two numbers stay as they are."""
    # The common cases first (every arithmetic op passes here): two arrays of one dtype, or a
    # float array and a Python number, are already promoted.
    ta, tb = type(a), type(b)
    if ta is np.ndarray:
        if tb is np.ndarray:
            if a.dtype is b.dtype:
                return a, b
        elif tb in _PLAIN_NUMBERS and a.dtype.kind == "f":
            return a, b
    elif tb is np.ndarray:
        if ta in _PLAIN_NUMBERS and b.dtype.kind == "f":
            return a, b
    elif not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
        return a, b
    dt = result_dtype(a, b)
    return convert(a, dt), convert(b, dt)


def promote_float(a, b):
    """promote for ops with a floating result (true division, atan2, xlogy): integer and bool
    results become the default float dtype, floating ones stay (bool / float16 is float16)."""
    if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
        return a, b
    dt = result_dtype(a, b)
    if dt.kind not in "fc":
        dt = _dtype.default_float()
    return convert(a, dt), convert(b, dt)
