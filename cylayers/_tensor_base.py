"""TensorBase: a numpy array plus what the tape needs (requires_grad, grad, its node, views).

The ops and the tape work on TensorBase; cylayers.Tensor (in _tensor.py) adds the methods
that call the ops, so its mixins can import the ops while the ops only import this module.
Every tensor made here, by ``TensorBase._make`` or ``TensorBase(...)``, is a cylayers.Tensor."""
import threading
import weakref

import numpy as np

from cylayers import _dtype
from cylayers._format import format_tensor
from cylayers._grad_state import grad_state
from cylayers.device import check_cpu, device as _device

_CPU = _device("cpu")


def _shape_arg(shape):
    """Accept f(2, 3), f((2, 3)) and f([2, 3]) like PyTorch."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class _TraceState(threading.local):
    active = None  # every thread starts with no tracer


# Set only while an exporter traces a forward pass in this thread (cylayers.autograd.tracer
# names it for the tape; here sizes become TracedInts and values leaving the graph are noted).
trace_state = _TraceState()


class _SizeInt(int):
    def __new__(cls, value, tensor, dim):
        self = super().__new__(cls, value)
        self.source = (tensor, dim)
        return self


class TracedInt(_SizeInt):
    """A size read from a tensor during an export trace: an int that remembers its tensor and
    dimension, so a shape built from it stays tied to the input (a dynamic axis stays
    dynamic). Arithmetic on it gives a DerivedInt: a constant in the exported graph, which the
    exporter warns about."""


class DerivedInt(_SizeInt):
    """An int computed from a TracedInt (x.size(0) * 2): exported as a constant."""


def _derive(name):
    plain = getattr(int, name)

    def method(self, *args):
        value = plain(self, *args)
        return DerivedInt(value, *self.source) if type(value) is int else value
    return method


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__neg__"):
    setattr(_SizeInt, _name, _derive(_name))


def _traced_sizes(tensor):
    return Size(TracedInt(n, tensor, d) for d, n in enumerate(tensor._array.shape))


class Size(tuple):
    """Tensor shape; a tuple that prints like torch.Size."""

    def __repr__(self):
        return f"cylayers.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


class TensorBase:
    # A view (``_base`` set) also has ``_view_chain``, the view ops that made it from ``_base``,
    # and ``_view_version``, the version its node was built at: after an in-place change of the
    # shared storage its node is rebuilt from the base's (_refresh_view).
    __slots__ = ("_array", "_requires_grad", "grad", "_node", "_accumulator", "_vc", "_base",
                 "_view_chain", "_view_version", "_hooks", "__weakref__")
    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __new__(cls, *args, **kwargs):
        return object.__new__(_public_class[0] if cls is TensorBase else cls)

    def __init__(self, *args, dtype=None, requires_grad=False):
        """PyTorch's ``torch.Tensor(...)``: sizes give an uninitialized tensor
        (``Tensor(2, 3)``, ``Tensor(Size)``), data is copied (``Tensor([1, 2])``, an array, a
        Tensor), nothing gives an empty one; always of the default float type unless a dtype is
        given. Prefer ``cylayers.tensor(data)`` and ``cylayers.empty(sizes)``."""
        if len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            data = args[0]
            arr = np.asarray(data._array if isinstance(data, TensorBase) else data)
            self._array = _coerce(arr, dtype)
        else:
            shape = _shape_arg(args) if args else (0,)
            self._array = np.empty(shape, dtype=_coerce(np.empty(0), dtype).dtype)
        self._init_fields(self._array, False)
        if requires_grad:
            self.requires_grad_(True)

    def _init_fields(self, arr, requires_grad):
        self._array = arr
        self._requires_grad = requires_grad
        self.grad = None
        self._node = None  # the op that made this tensor (grad_fn); None for a leaf
        self._accumulator = None  # a leaf's AccumulateGrad node (weakref) while a graph uses it
        self._vc = [0]  # version counter, shared with views
        self._base = None
        self._hooks = None  # a leaf's gradient hooks (a non-leaf's live on its node)

    @classmethod
    def _make(cls, arr, requires_grad=False):
        t = object.__new__(_public_class[0] if cls is TensorBase else cls)
        t._init_fields(arr, requires_grad)
        return t

    def _make_view(self, arr, requires_grad, view_fn, view_args):
        """Wrap ``arr``, the result of ``view_fn`` applied to self with ``view_args``, as a view of
        self when it shares self's memory (shared version counter, chain back to the base)."""
        t = TensorBase._make(arr, requires_grad)
        if np.may_share_memory(arr, self._array):
            t._vc = self._vc
            if self._base is None:
                t._base, t._view_chain = self, ((view_fn, view_args),)
            else:
                t._base, t._view_chain = self._base, self._view_chain + ((view_fn, view_args),)
            t._view_version = self._vc[0]
        return t

    def _refresh_view(self):
        """Rebuild a view's node from its base's current one after an in-place change of their
        shared storage, so gradients flow through that change (PyTorch rebases views the same
        way); a no-op while the version is unchanged."""
        if self._base is None or self._view_version == self._vc[0]:
            return
        t = self._base
        recording = grad_state.enabled
        grad_state.enabled = True  # the view's history exists whatever the current mode
        try:
            for view_fn, view_args in self._view_chain:
                t = view_fn.apply(t, *view_args)
        finally:
            grad_state.enabled = recording
        self._node = t._node
        self._requires_grad = t._requires_grad
        self._view_version = self._vc[0]

    @property
    def requires_grad(self):
        self._refresh_view()
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    # ------------------------------------------------------------------ storage
    @property
    def data(self):
        """A Tensor sharing this one's storage, outside the graph and with its own version
        counter: changes through it are not seen by autograd (PyTorch's ``.data``)."""
        return TensorBase._make(self._array)

    @data.setter
    def data(self, value):
        if not isinstance(value, TensorBase):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        self._array = value._array

    def _bump_version(self):
        """Record an in-place change, so backward can refuse saved values that changed."""
        self._vc[0] += 1

    # ------------------------------------------------------------------ basic properties
    @property
    def shape(self):
        if trace_state.active is not None:
            return _traced_sizes(self)
        return Size(self._array.shape)

    def size(self, dim=None):
        if trace_state.active is not None:
            sizes = _traced_sizes(self)
            return sizes if dim is None else sizes[_norm_dim(dim, self._array.ndim)]
        if dim is None:
            return Size(self._array.shape)
        return self._array.shape[_norm_dim(dim, self._array.ndim)]

    def dim(self):
        return self._array.ndim

    @property
    def ndim(self):
        return self._array.ndim

    def numel(self):
        return self._array.size

    def nelement(self):
        return self._array.size

    def element_size(self):
        return self._array.itemsize

    @property
    def dtype(self):
        return _dtype.to_cylayers_dtype(self._array.dtype)

    @property
    def device(self):
        return _CPU

    @property
    def is_cuda(self):
        return False

    def cuda(self, *args, **kwargs):
        check_cpu("cuda")

    @property
    def is_leaf(self):
        self._refresh_view()
        return self._node is None

    @property
    def grad_fn(self):
        self._refresh_view()
        return self._node

    @property
    def _version(self):
        return self._vc[0]

    def is_floating_point(self):
        return self._array.dtype.kind == "f"

    def is_contiguous(self):
        return bool(self._array.flags.c_contiguous)

    def stride(self, dim=None):
        strides = tuple(s // self._array.itemsize for s in self._array.strides)
        return strides if dim is None else strides[_norm_dim(dim, self._array.ndim)]

    def _leaves_graph(self, how):
        if trace_state.active is not None:
            trace_state.active.leaves_graph(self, how)

    def numpy(self):
        self._leaves_graph("numpy()")
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._array

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)

    def item(self):
        self._leaves_graph("item()")
        if self._array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._array.size} elements cannot be converted to Scalar")
        return self._array.reshape(()).item()

    def tolist(self):
        self._leaves_graph("tolist()")
        return self._array.tolist()

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __bool__(self):
        self._leaves_graph("bool()")
        if self._array.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._array.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._array.dtype.kind not in "iub" or self._array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ copy and pickle
    def _refuse_non_leaf(self, what):
        if self.grad_fn is not None:
            raise RuntimeError(
                f"Only Tensors created explicitly by the user (graph leaves) support the {what}. "
                "If you just want to transfer the data, call detach() on the tensor first.")

    def __deepcopy__(self, memo):
        self._refuse_non_leaf("deepcopy protocol")
        new = type(self)._make(self._array.copy(), self._requires_grad)
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        return new

    def __reduce_ex__(self, protocol):
        # Pickling is for multiprocessing (DataLoader workers) and copy; cylayers.save never
        # pickles, and cylayers.load never unpickles.
        self._refuse_non_leaf("pickle protocol (autograd does not cross process boundaries)")
        return (type(self)._make, (self._array, self._requires_grad))

    def __repr__(self):
        return _format(self)

    def __format__(self, spec):
        # PyTorch formats a 0-d tensor as its number; anything else only with an empty spec.
        if self._array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return str(self)

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._array.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        self._requires_grad = bool(requires_grad)
        return self

    def detach(self):
        t = TensorBase._make(self._array, False)
        t._vc = self._vc
        return t

    def detach_(self):
        self._node = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (no-op on leaves)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        node = self.grad_fn
        if node is not None and node.retained is None:
            node.retained = weakref.ref(self)

    @property
    def retains_grad(self):
        node = self.grad_fn
        return node is not None and node.retained is not None


_public_class = [None]  # cylayers.Tensor, once _tensor.py has defined it


def register_tensor_class(cls):
    """Make ``cls`` the class of every tensor TensorBase creates (cylayers.Tensor)."""
    _public_class[0] = cls


class writing:
    """``with writing(*tensors) as arrays``: the arrays of ``tensors``, for a kernel to write in
    place; each tensor's version moves on when the block ends, so backward refuses values saved
    before the write. Outside the core, tensors are written through their in-place ops (under
    no_grad), or here where one kernel writes them (an optimizer's fused update): nothing else
    writes a tensor's array. A class, not a generator: an optimizer enters one per parameter
    and step."""
    __slots__ = ("tensors",)

    def __init__(self, *tensors):
        self.tensors = tensors

    def __enter__(self):
        return tuple(t._array for t in self.tensors)

    def __exit__(self, *exc):
        for t in self.tensors:
            t._bump_version()
        return False


def unwrap(x):
    """The numpy array of a Tensor; anything else unchanged (numbers, arrays, None)."""
    return x._array if isinstance(x, TensorBase) else x


def _coerce(arr, dtype):
    if dtype is None:
        # torch.Tensor(data) is always of the default float type.
        return arr.astype(_dtype.default_float(), copy=False)
    return arr.astype(_dtype.to_numpy_dtype(dtype), copy=False)


def _norm_dim(dim, ndim):
    nd = max(ndim, 1)
    if not -nd <= dim < nd:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    return dim % nd


def _index_arg(index):
    """Translate Tensor indices to numpy ones."""
    if isinstance(index, TensorBase):
        return index._array
    if isinstance(index, tuple):
        return tuple(i._array if isinstance(i, TensorBase) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _format(t):
    node = t.grad_fn
    return format_tensor(t._array, repr(t.dtype), None if node is None else node.name(),
                         t.requires_grad)


def parse_to_args(args, kwargs):
    """The dtype asked for by ``.to(...)`` (Tensor.to and Module.to share this), or None;
    devices are checked (CPU only), ``non_blocking``/``copy``/``memory_format`` accepted."""
    unknown = set(kwargs) - {"dtype", "device", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"to() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    dtype = kwargs.get("dtype")
    if kwargs.get("device") is not None:
        check_cpu(kwargs["device"])
    for a in args:
        if isinstance(a, (_dtype.dtype, np.dtype)) or (isinstance(a, type) and a is not bool):
            dtype = a
        elif isinstance(a, TensorBase):
            dtype = a.dtype
        elif isinstance(a, (str, _device)):
            check_cpu(a)
        elif isinstance(a, bool):  # non_blocking / copy given positionally
            continue
        else:
            raise TypeError(f"to() received an invalid argument {a!r}")
    return dtype
