"""PyTorch's legacy tensor types: ``cylayers.FloatTensor(2, 3)``, ``LongTensor([1, 2])``,
``isinstance(x, cylayers.FloatTensor)`` and ``x.type(cylayers.FloatTensor)``. Each is a
constructor for a dtype, not a subclass: every tensor is a cylayers.Tensor."""
import numpy as np

from cylayers import _dtype
from cylayers._tensor_base import TensorBase

_LEGACY_NAMES = {
    np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
    np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor",
    np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
    np.dtype(np.bool_): "BoolTensor",
}
_BY_NAME = {name: dt for dt, name in _LEGACY_NAMES.items()}


def legacy_type_name(np_dtype):
    return _LEGACY_NAMES.get(np.dtype(np_dtype), np.dtype(np_dtype).name)


def scalar_type_name(np_dtype):
    """PyTorch's name of a dtype in its error messages: Float, Double, Long, Byte, Bool..."""
    return legacy_type_name(np_dtype).replace("Tensor", "")


class _LegacyTensorType(type):
    """Metaclass: the class object is a constructor and an isinstance check for one dtype."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, TensorBase) and obj._array.dtype == cls.np_dtype

    def __call__(cls, *args):
        return TensorBase(*args, dtype=cls.np_dtype)

    def __repr__(cls):
        return f"<class 'cylayers.{cls.__name__}'>"


def _make_type(name):
    return _LegacyTensorType(name, (), {"np_dtype": _BY_NAME[name], "__module__": "cylayers"})


LEGACY_TYPES = {name: _make_type(name) for name in _BY_NAME}


def legacy_to_numpy(value):
    """A numpy dtype from a dtype, a legacy type or its name ('torch.FloatTensor' too)."""
    if isinstance(value, _LegacyTensorType):
        return value.np_dtype
    if isinstance(value, str):
        short = value.rsplit(".", 1)[-1]
        if short in _BY_NAME:
            return _BY_NAME[short]
    return _dtype.to_numpy_dtype(value)
