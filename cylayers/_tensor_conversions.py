"""Tensor's conversions (to, float, type...), new tensors like this one (new_zeros,
new_tensor...), the storage queries with their CPU answers and the real-number identities
of the complex API (conj, real, imag)."""
import numpy as np

from cylayers import _dtype
from cylayers._ops import shape as shape_ops
from cylayers._tensor_base import TensorBase, _shape_arg, parse_to_args, unwrap
from cylayers._tensor_types import legacy_to_numpy, legacy_type_name


def _new_filled(self, size, fill_value, dtype, requires_grad):
    np_dtype = self._array.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)
    return TensorBase._make(np.full(_shape_arg(size), fill_value, dtype=np_dtype),
                            requires_grad)


class ConversionMethods:
    __slots__ = ()

    # ------------------------------------------------------------ dtype conversions
    def to(self, *args, **kwargs):
        dtype = parse_to_args(args, kwargs)
        if dtype is None:
            return self.clone() if kwargs.get("copy") else self
        out = self.type(dtype)
        return out.clone() if kwargs.get("copy") and out is self else out

    def float(self):
        return self.type(np.float32)

    def double(self):
        return self.type(np.float64)

    def long(self):
        return self.type(np.int64)

    def int(self):
        return self.type(np.int32)

    def bool(self):
        return self.type(np.bool_)

    def cpu(self):
        return self

    def contiguous(self):
        if self._array.flags.c_contiguous:
            return self
        return self.clone()

    def half(self):
        return self.to(_dtype.float16)

    def byte(self):
        return self.to(_dtype.uint8)

    def char(self):
        return self.to(_dtype.int8)

    def short(self):
        return self.to(_dtype.int16)

    def type(self, dtype=None, non_blocking=False):
        """``x.type()`` names the legacy type ('cylayers.FloatTensor'); ``x.type(t)`` casts to
        a dtype, a legacy type (cylayers.FloatTensor) or its name (also 'torch.FloatTensor')."""
        if dtype is None:
            return "cylayers." + legacy_type_name(self._array.dtype)
        np_dtype = legacy_to_numpy(dtype)
        if np_dtype == self._array.dtype:
            return self
        return shape_ops.Cast.apply(self, np_dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def clone(self):
        return shape_ops.Clone.apply(self)

    # ------------------------------------------------------------ new tensors like this one
    def new(self, *args, **kwargs):
        """Legacy ``x.new(sizes...)`` (uninitialized) / ``x.new(data)``, in x's dtype."""
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)) and \
                not isinstance(args[0], tuple) and not type(args[0]).__name__ == "Size":
            return TensorBase._make(np.array(unwrap(args[0]), dtype=self._array.dtype))
        sizes = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
        return TensorBase._make(np.empty(tuple(sizes), dtype=self._array.dtype))

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return _new_filled(self, size, 0, dtype, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return _new_filled(self, size, 1, dtype, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return _new_filled(self, size, 0, dtype, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return _new_filled(self, (size,), fill_value, dtype, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        np_dtype = self._array.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)
        return TensorBase._make(np.array(unwrap(data), dtype=np_dtype), requires_grad)

    # ------------------------------------------------------------ storage, with CPU answers
    def ndimension(self):
        return self.dim()

    @property
    def nbytes(self):
        return self._array.nbytes

    @property
    def itemsize(self):
        return self._array.itemsize

    def is_signed(self):
        return self._array.dtype.kind in "fic"

    def data_ptr(self):
        return self._array.__array_interface__["data"][0]

    def storage_offset(self):
        if self._base is None:
            return 0
        return (self._array.__array_interface__["data"][0]
                - self._base._array.__array_interface__["data"][0]) // self._array.itemsize

    def is_inference(self):
        return False

    def pin_memory(self, *args, **kwargs):
        return self

    share_memory_ = pin_memory

    def is_pinned(self, *args):
        return False

    is_shared = is_pinned

    @property
    def is_cpu(self):
        return True

    def get_device(self):
        """-1: the CPU (PyTorch's answer for a CPU tensor)."""
        return -1

    @property
    def is_sparse(self):
        return False

    is_sparse_csr = is_quantized = is_meta = is_nested = is_mkldnn = is_sparse

    # ------------------------------------------------------------ complex API on real tensors
    def conj(self):
        return self

    conj_physical = resolve_conj = resolve_neg = conj

    def is_conj(self):
        return False

    is_neg = is_conj

    @property
    def real(self):
        if self._array.dtype.kind == "c":
            raise NotImplementedError("complex tensors are not supported by cylayers")
        return self

    @property
    def imag(self):
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
