"""cylayers dtypes: thin names over numpy dtypes, printed and compared as PyTorch users expect."""
import numpy as np


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
