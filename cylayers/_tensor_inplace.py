"""Tensor's in-place ops and writes at indices: fill_, copy_, the arithmetic in-place forms,
item assignment, scatter / index_add / index_copy / masked_scatter / put and their in-place
forms, and the in-place metadata changes (unsqueeze_, t_...)."""
import numpy as np

from cylayers._ops import arith, indexing, scatter as scatter_ops, shape as shape_ops
from cylayers._tensor_arithmetic import _other
from cylayers._tensor_base import TensorBase, _index_arg, _norm_dim, unwrap
from cylayers._tensor_types import scalar_type_name
from cylayers.autograd.grad_mode import grad_state


def _index_array(index):
    return np.asarray(unwrap(index))


def _index_write(self, dim, index, values, name, inplace):
    """index_copy / index_fill (``name``), in place or on a copy."""
    apply = scatter_ops.IndexWrite.apply_inplace if inplace else scatter_ops.IndexWrite.apply
    return apply(self, _norm_dim(dim, self._array.ndim), unwrap(index),
                 values if name == "index_copy" else unwrap(values), name)


def _metadata_in_place(self, name, args, kwargs):
    """self becomes its own ``name`` view: same memory, new shape, and (when it is part of a
    graph) the view's node as its history; a leaf that requires grad is refused as PyTorch
    refuses it."""
    if self.requires_grad and self._node is None and grad_state.enabled:
        raise RuntimeError("a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    view = getattr(self, name)(*args, **kwargs)
    self._array = view._array
    if view._node is not None:
        self._node, self._requires_grad = view._node, view._requires_grad
    return self


class InPlaceMethods:
    __slots__ = ()

    # ------------------------------------------------------------ fills and copies
    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        if isinstance(value, TensorBase):
            value = value.item()
        return shape_ops.Fill.apply_inplace(self, value)

    def copy_(self, src):
        if not isinstance(src, TensorBase):
            src = TensorBase._make(np.asarray(src))
        return shape_ops.CopyInto.apply_inplace(self, src)

    def __setitem__(self, index, value):
        index = _index_arg(index)
        if isinstance(value, TensorBase) and value._array.ndim and \
                value._array.dtype != self._array.dtype and any(
                isinstance(i, (np.ndarray, list)) for i in (index if isinstance(index, tuple)
                                                            else (index,))):
            # PyTorch's index_put (an index tensor or mask) takes no dtype conversion
            raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                               f"{scalar_type_name(self._array.dtype)} for the destination and "
                               f"{scalar_type_name(value._array.dtype)} for the source.")
        if not isinstance(value, TensorBase):
            value = np.asarray(value)
        shape_ops.SetItem.apply_inplace(self, index, value)

    # ------------------------------------------------------------ arithmetic in place
    def add_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return arith.Add.apply_inplace(self, other)

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return arith.Sub.apply_inplace(self, other)

    def mul_(self, other):
        return arith.Mul.apply_inplace(self, other)

    def div_(self, other):
        return arith.Div.apply_inplace(self, other)

    def masked_fill_(self, mask, value):
        return indexing.MaskedFill.apply_inplace(self, unwrap(mask), _other(value))

    def tril_(self, diagonal=0):
        return indexing.Triangle.apply_inplace(self, diagonal, False)

    def triu_(self, diagonal=0):
        return indexing.Triangle.apply_inplace(self, diagonal, True)

    # ------------------------------------------------------------ writes at indices
    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        source = value if src is None else src
        if source is None:
            raise TypeError("scatter() missing 1 required argument: 'src' or 'value'")
        d = _norm_dim(dim, self._array.ndim)
        return scatter_ops.Scatter.apply(self, d, _index_array(index), _other(source), reduce)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        source = value if src is None else src
        d = _norm_dim(dim, self._array.ndim)
        return scatter_ops.Scatter.apply_inplace(self, d, _index_array(index), _other(source),
                                                 reduce)

    def scatter_add(self, dim, index, src):
        return scatter_ops.ScatterAdd.apply(self, _norm_dim(dim, self._array.ndim),
                                            _index_array(index), src)

    def scatter_add_(self, dim, index, src):
        return scatter_ops.ScatterAdd.apply_inplace(self, _norm_dim(dim, self._array.ndim),
                                                    _index_array(index), src)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        """scatter_reduce with 'sum' (through scatter_add), 'prod', 'mean', 'amax', 'amin'."""
        d = _norm_dim(dim, self._array.ndim)
        idx = _index_array(index)
        if reduce == "sum":
            base = self if include_self else scatter_ops.Scatter.apply(self, d, idx, 0.0, None)
            return scatter_ops.ScatterAdd.apply(base, d, idx, src)
        if reduce not in ("prod", "mean", "amax", "amin"):
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                               f"{reduce}")
        return scatter_ops.ScatterReduce.apply(self, d, idx, _other(src), reduce, include_self)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return self.copy_(self.scatter_reduce(dim, index, src, reduce, include_self=include_self))

    def index_add(self, dim, index, source, *, alpha=1):
        return scatter_ops.IndexAdd.apply(self, _norm_dim(dim, self._array.ndim), unwrap(index),
                                          source, alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        return scatter_ops.IndexAdd.apply_inplace(self, _norm_dim(dim, self._array.ndim),
                                                  unwrap(index), source, alpha)

    def index_copy(self, dim, index, values):
        return _index_write(self, dim, index, values, "index_copy", inplace=False)

    def index_copy_(self, dim, index, values):
        return _index_write(self, dim, index, values, "index_copy", inplace=True)

    def index_fill(self, dim, index, values):
        return _index_write(self, dim, index, values, "index_fill", inplace=False)

    def index_fill_(self, dim, index, values):
        return _index_write(self, dim, index, values, "index_fill", inplace=True)

    def masked_scatter(self, mask, source):
        return scatter_ops.MaskedScatter.apply(self, unwrap(mask), source)

    def masked_scatter_(self, mask, source):
        return scatter_ops.MaskedScatter.apply_inplace(self, unwrap(mask), source)

    def put_(self, index, source, accumulate=False):
        if source.dtype != self.dtype:
            raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                               f"self.dtype = {scalar_type_name(self._array.dtype)} and "
                               f"source.dtype = {scalar_type_name(source._array.dtype)}")
        flat = self.view(-1)
        idx = np.asarray(unwrap(index)).reshape(-1)
        n = self.numel()
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"out of range: tried to access index {int(idx.max())} on a tensor "
                             f"of {n} elements.")
        if accumulate:
            updated = flat.index_add(0, TensorBase._make(idx % max(n, 1)), source.reshape(-1))
            return self.copy_(updated.view(*self.shape))
        flat[TensorBase._make(idx)] = source.reshape(-1)
        return self

    def put(self, index, source, accumulate=False):
        return self.clone().put_(index, source, accumulate)

    def apply_(self, fn):
        flat = self._array.reshape(-1)
        for i, v in enumerate(flat.tolist()):
            flat[i] = fn(v)
        self._bump_version()
        return self

    def map_(self, other, fn):
        a = self._array.reshape(-1)
        b = np.broadcast_to(unwrap(other), self.shape).reshape(-1)
        for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
            a[i] = fn(x, y)
        self._bump_version()
        return self

    # ------------------------------------------------------------ metadata in place
    def unsqueeze_(self, *args, **kwargs):
        return _metadata_in_place(self, "unsqueeze", args, kwargs)

    def squeeze_(self, *args, **kwargs):
        return _metadata_in_place(self, "squeeze", args, kwargs)

    def t_(self, *args, **kwargs):
        return _metadata_in_place(self, "t", args, kwargs)

    def transpose_(self, *args, **kwargs):
        return _metadata_in_place(self, "transpose", args, kwargs)

    def swapaxes_(self, *args, **kwargs):
        return _metadata_in_place(self, "swapaxes", args, kwargs)

    def swapdims_(self, *args, **kwargs):
        return _metadata_in_place(self, "swapdims", args, kwargs)
