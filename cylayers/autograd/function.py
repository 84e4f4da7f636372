"""One differentiable op = one Function subclass with a forward/backward pair.

``forward(ctx, *args)`` receives numpy arrays for Tensor arguments (anything else as given) and
returns a numpy array; ``backward(ctx, grad)`` returns one gradient (array or None) per
argument. ``apply`` wraps the result in a Tensor and, when some input requires grad, records the
ctx as that tensor's node on the tape. ``ctx`` is the node itself: it keeps only what backward
needs, and the engine drops that after backward unless the graph is retained.
"""
import weakref

import numpy as np

from cylayers._ops.promotion import check_in_place_cast
from cylayers._tensor_base import TensorBase
from cylayers.autograd import tracer
from cylayers.autograd.grad_mode import grad_state

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class Function:
    # True for ops whose output is a view of their first input (reshape, transpose, indexing):
    # the output then shares the input's version counter, so in-place edits through either are
    # seen by backward.
    returns_view = False
    __slots__ = ("next_nodes", "needs_input_grad", "saved_tensors", "_saved_versions",
                 "_freed", "out", "tensor_hooks", "retained", "__dict__")

    def __init__(self):
        self.needs_input_grad = ()  # set by apply: one flag per argument
        self.tensor_hooks = None  # hooks registered on the output tensor (register_hook)
        self.retained = None  # a weakref to the output tensor after retain_grad()
        self.saved_tensors = ()
        self._saved_versions = None
        self._freed = False
        self.out = None  # set by apply_inplace: the array forward must write into

    # ---- what subclasses use
    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def replay_on_array(cls, arr, *view_args):
        """For view ops (returns_view): the same view of a plain array, outside the tape."""
        return cls.forward(cls(), arr, *view_args)

    def name(self):
        """PyTorch's name for this node: ``<Op>Backward0`` for cylayers' own ops (PyTorch's op
        names where they differ: ReLUFn -> Relu, LinearFn -> Addmm), ``<Class>Backward`` for
        a user's Function, as PyTorch names custom Functions."""
        cls = type(self)
        if not cls.__module__.startswith("cylayers."):
            return cls.__name__ + "Backward"
        op = TORCH_OP_NAMES.get(cls.__name__)
        if op is None:
            op = cls.__name__[:-2] if cls.__name__.endswith("Fn") else cls.__name__
        return op + "Backward0"

    def _run_backward(self, g):
        """What the engine calls: backward on arrays (the user-facing Function overrides it)."""
        return self.backward(self, g)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    # ---- tape bookkeeping
    def _record_versions(self, tensors):
        """Remember the version of every Tensor whose array was saved, to catch in-place edits."""
        saved = self.saved_tensors
        if not saved:
            return
        versions = []
        for t in tensors:
            data = t._array
            for s in saved:
                if s is data:
                    versions.append((t._vc, t._vc[0]))
                    break
        self._saved_versions = versions

    def _check_saved(self):
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE)
        if self._saved_versions:
            for counter, expected in self._saved_versions:
                if counter[0] != expected:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified "
                        f"by an inplace operation: the input or output of {self.name()} is at "
                        f"version {counter[0]}; expected version {expected} instead."
                    )

    def _release(self):
        # Everything forward kept for backward goes, so a second backward must be refused.
        self.saved_tensors = ()
        self._saved_versions = None
        self._freed = True
        self.__dict__.clear()

    @classmethod
    def apply(cls, *args):
        ctx = cls()
        raw = [a._array if isinstance(a, TensorBase) else a for a in args]
        requires = False
        if grad_state.enabled:
            for a in args:
                # Every tensor's requires_grad is read: it brings a stale view up to date.
                if isinstance(a, TensorBase) and a.requires_grad:
                    requires = True
        ctx.needs_input_grad = (tuple(isinstance(a, TensorBase) and a._requires_grad for a in args)
                                if requires else (False,) * len(args))
        try:
            result = cls.forward(ctx, *raw)
        except ValueError as e:
            raise broadcast_error(e, raw) from None
        if type(result) is not np.ndarray:  # a numpy scalar from a reduction or scalar math
            result = np.asarray(result)
        if cls.returns_view:
            out = args[0]._make_view(result, requires, cls, args[1:])
        else:
            out = TensorBase._make(result, requires)
        if tracer.state.active is not None:  # cylayers.onnx.export is recording the ops
            tracer.state.active.record(cls, args, out)
        if requires:
            ctx.next_nodes = _next_nodes(args)
            ctx._record_versions([a for a in args if isinstance(a, TensorBase)] + [out])
            out._node = ctx
        return out

    @classmethod
    def apply_inplace(cls, target, *args):
        """Run the op writing into ``target`` and make target the op's output on the tape.

        When target is a view, the write lands in its base's storage: the base's node becomes a
        CopySlices node (gradient outside the view passes through, inside it goes through this
        op), and every view of the base rebuilds its node on next use (Tensor._refresh_view)."""
        grad_on = grad_state.enabled
        base = target._base
        target_requires = target.requires_grad  # refreshes a stale view first
        if grad_on and target_requires and target._node is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        if grad_on and base is not None and base._node is None and base.requires_grad:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place "
                "operation.")
        if not target._array.flags.writeable:
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers to "
                "a single memory location. Please clone() the tensor before performing the "
                "operation.")
        requires = grad_on and (target_requires or any(
            isinstance(a, TensorBase) and a.requires_grad for a in args))
        ctx = cls()
        ctx.out = target._array
        full = (target,) + args
        raw = [a._array if isinstance(a, TensorBase) else a for a in full]
        ctx.needs_input_grad = (tuple(isinstance(a, TensorBase) and a._requires_grad for a in full)
                                if requires else (False,) * len(full))
        if requires:
            ctx.next_nodes = _next_nodes(full)
        if tracer.state.active is not None:
            tracer.state.active.before_inplace(target)
        try:
            result = cls.forward(ctx, *raw)
        except ValueError as e:
            raise broadcast_error(e, raw, in_place=True) from None
        except TypeError as e:
            if not _is_output_cast_error(e):
                raise
            result = _cast_into(target._array, cls.forward(_fresh_context(ctx), *raw))
        if result is not target._array:
            raise AssertionError(f"{cls.__name__}.forward ignored ctx.out")
        if tracer.state.active is not None:
            tracer.state.active.record_inplace(cls, full, target)
        target._bump_version()
        ctx.out = None
        if not requires:
            return target
        ctx._record_versions([a for a in args if isinstance(a, TensorBase)] + [target])
        if base is None:
            target._node = ctx
            target._requires_grad = True
            return target
        copy = CopySlices()
        copy.view_chain, copy.base_shape = target._view_chain, base._array.shape
        copy.needs_input_grad = (base._requires_grad, True)
        copy.next_nodes = (gradient_edge(base) if base._requires_grad else None, ctx)
        base._node = copy
        base._requires_grad = True
        target._refresh_view()  # now a view of the base's new history
        return target


def _is_output_cast_error(e):
    # numpy's _UFuncOutputCastingError is private and names itself UFuncTypeError
    return str(e).startswith("Cannot cast ufunc") and " output from " in str(e)


def _fresh_context(ctx):
    """ctx writing into a new array: the op's result dtype is not the target's."""
    ctx.out = None
    return ctx


def _cast_into(target, result):
    """An in-place op whose result dtype differs from its tensor's, as PyTorch does it: computed
    in the result dtype, then stored in the tensor's dtype (integers wrap around) when PyTorch's
    casting rules allow it (not float to integer, not integer to bool)."""
    check_in_place_cast(result.dtype, target.dtype)
    np.copyto(target, result, casting="unsafe")
    return target


# cylayers' Function class -> the op PyTorch names the same node after (grad_fn.name()).
TORCH_OP_NAMES = {
    "ReLUFn": "Relu", "GELUFn": "Gelu", "SiLUFn": "Silu", "LeakyReLUFn": "LeakyRelu",
    "ELUFn": "Elu", "PReLUFn": "PreluKernel", "NLLLossFn": "NllLoss",
    "BCEFn": "BinaryCrossEntropy", "BCEWithLogitsFn": "BinaryCrossEntropyWithLogits",
    "LinearFn": "Addmm", "MatMul": "Mm", "Reshape": "View", "GetItem": "Slice",
    "BlockNormFn": "NativeBatchNorm", "LayerNormFn": "NativeLayerNorm",
    "GroupNormFn": "NativeGroupNorm", "ConvFn": "Convolution", "ConvTransposeFn": "Convolution",
    "MaxPoolFn": "MaxPool2DWithIndices", "AvgPoolFn": "AvgPool2D",
    "AdaptiveAvgPoolFn": "AdaptiveAvgPool2D", "DropoutFn": "NativeDropout",
    "PadFn": "ConstantPadNd", "Extremum": "Maximum", "MaxDim": "Max", "MaxAll": "Max",
    "AmaxAmin": "Amax", "Triangle": "Tril", "AttentionSoftmax": "Softmax",
}


def broadcast_error(error, arrays, in_place=False):
    """numpy's broadcasting ValueError as PyTorch's RuntimeError (a script's ``except
    RuntimeError`` must catch it); any other ValueError as it is."""
    text = str(error)
    if "broadcast" not in text:
        return error
    shapes = [a.shape for a in arrays if isinstance(a, np.ndarray)]
    if in_place and len(shapes) >= 1:
        try:
            full = np.broadcast_shapes(*shapes)
        except ValueError:
            full = None
        if full is not None and full != shapes[0]:
            return RuntimeError(f"output with shape {list(shapes[0])} doesn't match the "
                                f"broadcast shape {list(full)}")
    if len(shapes) >= 2:
        a, b = shapes[0], shapes[1]
        nd = max(len(a), len(b))
        a, b = (1,) * (nd - len(a)) + a, (1,) * (nd - len(b)) + b
        for dim, (da, db) in enumerate(zip(a, b)):
            if da != db and 1 not in (da, db):
                return RuntimeError(f"The size of tensor a ({da}) must match the size of "
                                    f"tensor b ({db}) at non-singleton dimension {dim}")
    return RuntimeError(text)


class AccumulateGrad:
    """The node of a leaf that requires grad: the end of the graph, where the leaf's gradient
    is accumulated into ``.grad`` (PyTorch's AccumulateGrad). Every op that uses the leaf
    points to the same node, so the engine sums all of its gradients before the leaf's hooks
    see them. The leaf holds it weakly: it lives as long as some graph does."""
    __slots__ = ("variable", "__weakref__")
    next_nodes = ()
    retained = None  # retain_grad() is a no-op on leaves

    def __init__(self, variable):
        self.variable = variable

    @property
    def tensor_hooks(self):
        return self.variable._hooks

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


def grad_accumulator(leaf):
    """The leaf's AccumulateGrad node, made on first use."""
    ref = leaf._accumulator
    node = ref() if ref is not None else None
    if node is None:
        node = AccumulateGrad(leaf)
        leaf._accumulator = weakref.ref(node)
    return node


def gradient_edge(t):
    """Where ``t``'s gradient goes: the op that made it, or its leaf's AccumulateGrad node."""
    return t._node if t._node is not None else grad_accumulator(t)


def _next_nodes(args):
    """Where each argument's gradient goes, or None for arguments that need none."""
    return tuple(gradient_edge(a) if isinstance(a, TensorBase) and a._requires_grad else None
                 for a in args)


class CopySlices(Function):
    """The base's node after an in-place op on one of its views: the gradient outside the view
    goes to the base's previous history, the part inside to the in-place op."""

    def name(self):
        return "CopySlices"  # PyTorch's name: no "Backward"

    def _view_indices(self):
        """Flat base index of every view element, by replaying the view ops on an index array
        (independent of the memory layout of the gradient that arrives)."""
        idx = np.arange(int(np.prod(self.base_shape)), dtype=np.int64).reshape(self.base_shape)
        for view_fn, view_args in self.view_chain:
            idx = view_fn.replay_on_array(idx, *view_args)
        return idx

    @staticmethod
    def backward(ctx, g):
        idx = ctx._view_indices()
        g = np.ascontiguousarray(g)
        g_view = g.reshape(-1)[idx]
        g_base = None
        if ctx.needs_input_grad[0]:
            g_base = g.copy()
            g_base.reshape(-1)[idx] = 0
        return g_base, g_view
