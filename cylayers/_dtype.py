"""cylayers dtypes: thin names over numpy dtypes, printed and compared as PyTorch users expect."""
import builtins

import numpy as np

builtins_float, builtins_int = builtins.float, builtins.int  # the module shadows both names


class dtype:
    __slots__ = ("name", "np_dtype", "is_floating_point")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np_dtype = np.dtype(np_dtype)
        self.is_floating_point = self.np_dtype.kind == "f"

    def __repr__(self):
        return f"cylayers.{self.name}"

    def __eq__(self, other):
        if isinstance(other, dtype):
            return self.np_dtype == other.np_dtype
        try:
            return self.np_dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.np_dtype)

    @property
    def itemsize(self):
        return self.np_dtype.itemsize


float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
float16 = dtype("float16", np.float16)
int64 = dtype("int64", np.int64)
int32 = dtype("int32", np.int32)
int16 = dtype("int16", np.int16)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
bool_ = dtype("bool", np.bool_)
float = float32  # noqa: A001  (PyTorch's aliases: torch.float is float32)
double = float64
half = float16
long = int64
int = int32  # noqa: A001  (torch.int)
short = int16

_BY_NUMPY = {d.np_dtype: d for d in (float32, float64, float16, int64, int32, int16, int8, uint8,
                                     bool_)}
_DEFAULT_FLOAT = np.dtype(np.float32)


def to_cylayers_dtype(np_dtype):
    np_dtype = np.dtype(np_dtype)
    found = _BY_NUMPY.get(np_dtype)
    return found if found is not None else dtype(np_dtype.name, np_dtype)


def to_numpy_dtype(d):
    """Accept a cylayers dtype, a numpy dtype/type or a string; return a numpy dtype."""
    if d is None:
        return None
    if isinstance(d, dtype):
        return d.np_dtype
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"expected a dtype (e.g. cylayers.float32), but got {d!r}") from None


def get_default_dtype():
    return to_cylayers_dtype(_DEFAULT_FLOAT)


def set_default_dtype(d):
    global _DEFAULT_FLOAT
    nd = to_numpy_dtype(d)
    if nd.kind != "f":
        raise TypeError(f"only floating-point types are supported as the default type, got {d!r}")
    _DEFAULT_FLOAT = nd


def default_float():
    return _DEFAULT_FLOAT


class finfo:
    """Machine limits of a floating dtype (``torch.finfo``); the default float dtype when none
    is given."""

    def __init__(self, type=None):
        np_dtype = default_float() if type is None else to_numpy_dtype(type)
        if np_dtype.kind != "f":
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        info = np.finfo(np_dtype)
        self.bits, self.eps = info.bits, builtins_float(info.eps)
        self.max, self.min = builtins_float(info.max), builtins_float(info.min)
        self.tiny = self.smallest_normal = builtins_float(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision  # exactly 1e-06, as PyTorch reports it
        self.dtype = to_cylayers_dtype(np_dtype).name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype (``torch.iinfo``)."""

    def __init__(self, type):
        np_dtype = to_numpy_dtype(type)
        if np_dtype.kind not in "iub":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(np_dtype) if np_dtype.kind != "b" else None
        self.bits = np_dtype.itemsize * 8
        self.max = builtins_int(info.max) if info else 1
        self.min = builtins_int(info.min) if info else 0
        self.dtype = to_cylayers_dtype(np_dtype).name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
