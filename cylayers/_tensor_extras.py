"""The rest of PyTorch's Tensor surface that scripts touch: in-place metadata changes
(unsqueeze_, squeeze_, t_, transpose_, as views whose history the tensor takes over),
Tensor.new, the real-number identities of the complex API (conj, real, H, mH...), put / put_,
apply_ / map_, and the storage queries with their CPU answers."""
import numpy as np

from cylayers._tensor import Tensor, unwrap
from cylayers._tensor_types import scalar_type_name
from cylayers.autograd.grad_mode import grad_state


def _metadata_in_place(name):
    """self becomes its own ``name`` view: same memory, new shape, and (when it is part of a
    graph) the view's node as its history; a leaf that requires grad is refused as PyTorch
    refuses it."""
    def method(self, *args, **kwargs):
        if self.requires_grad and self._node is None and grad_state.enabled:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        view = getattr(self, name)(*args, **kwargs)
        self._array = view._array
        if view._node is not None:
            self._node, self._requires_grad = view._node, view._requires_grad
        return self
    method.__name__ = name + "_"
    return method


for _name in ("unsqueeze", "squeeze", "t", "transpose", "swapaxes", "swapdims"):
    setattr(Tensor, _name + "_", _metadata_in_place(_name))


def _new(self, *args, **kwargs):
    """Legacy ``x.new(sizes...)`` (uninitialized) / ``x.new(data)``, in x's dtype."""
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)) and \
            not isinstance(args[0], tuple) and not type(args[0]).__name__ == "Size":
        return Tensor._make(np.array(unwrap(args[0]), dtype=self._array.dtype))
    sizes = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
    return Tensor._make(np.empty(tuple(sizes), dtype=self._array.dtype))


def _put_(self, index, source, accumulate=False):
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
        updated = flat.index_add(0, Tensor._make(idx % max(n, 1)), source.reshape(-1))
        return self.copy_(updated.view(*self.shape))
    flat[Tensor._make(idx)] = source.reshape(-1)
    return self


def _apply_(self, fn):
    flat = self._array.reshape(-1)
    for i, v in enumerate(flat.tolist()):
        flat[i] = fn(v)
    self._bump_version()
    return self


def _map_(self, other, fn):
    a = self._array.reshape(-1)
    b = np.broadcast_to(unwrap(other), self.shape).reshape(-1)
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
        a[i] = fn(x, y)
    self._bump_version()
    return self


def _real(self):
    if self._array.dtype.kind == "c":
        raise NotImplementedError("complex tensors are not supported by cylayers")
    return self


Tensor.new = _new
Tensor.put_ = _put_
Tensor.put = lambda self, index, source, accumulate=False: _put_(self.clone(), index, source,
                                                                 accumulate)
Tensor.apply_ = _apply_
Tensor.map_ = _map_
Tensor.conj = Tensor.resolve_conj = Tensor.resolve_neg = Tensor.conj_physical = lambda self: self
Tensor.is_conj = Tensor.is_neg = lambda self: False
Tensor.real = property(_real)
Tensor.imag = property(lambda self: (_ for _ in ()).throw(
    RuntimeError("imag is not implemented for tensors with non-complex dtypes.")))
Tensor.H = property(lambda self: self.t() if self.dim() == 2 else (_ for _ in ()).throw(
    RuntimeError("tensor.H is only supported on matrices (2-D tensors).")))
Tensor.mH = property(lambda self: self.transpose(-2, -1))
Tensor.adjoint = lambda self: self.transpose(-2, -1)
Tensor.data_ptr = lambda self: self._array.__array_interface__["data"][0]
Tensor.storage_offset = lambda self: (
    (self._array.__array_interface__["data"][0] - self._base._array.__array_interface__[
        "data"][0]) // self._array.itemsize if self._base is not None else 0)
Tensor.is_inference = lambda self: False
Tensor.share_memory_ = Tensor.pin_memory = lambda self, *args, **kwargs: self
Tensor.is_shared = Tensor.is_pinned = lambda self, *args: False
Tensor.is_cpu = property(lambda self: True)
Tensor.hardshrink = lambda self, lambd=0.5: self.where((self > lambd) | (self < -lambd),
                                                       self * 0)
Tensor.scatter_reduce_ = lambda self, dim, index, src, reduce, *, include_self=True: \
    self.copy_(self.scatter_reduce(dim, index, src, reduce, include_self=include_self))
