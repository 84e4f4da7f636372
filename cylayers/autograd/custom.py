"""``torch.autograd.Function`` for users: forward and backward written with Tensors.

cylayers' own ops subclass the tape's array-level Function (cylayers.autograd.function); this
subclass adapts PyTorch's user-facing contract onto it: forward runs on Tensors with recording
off, ``ctx.save_for_backward`` keeps Tensors (checked for in-place changes), backward receives
and returns Tensors. One output tensor per Function, as the tape has one output per node."""
import numpy as np

from cylayers._tensor_base import TensorBase

from cylayers.autograd.function import Function as _TapeFunction, _next_nodes
from cylayers.autograd.grad_mode import grad_state, no_grad


class Function(_TapeFunction):
    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls()
        ctx._dirty, ctx._non_differentiable, ctx._materialize = (), set(), True
        ctx.needs_input_grad = tuple(isinstance(a, TensorBase) and a.requires_grad for a in args)
        ctx.input_shapes = [a._array.shape if isinstance(a, TensorBase) else None for a in args]
        requires = grad_state.enabled and any(ctx.needs_input_grad)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        if isinstance(out, (tuple, list)):
            tensors = [o for o in out if isinstance(o, TensorBase)]
            if len(tensors) > 1:
                raise NotImplementedError(
                    f"{cls.__name__}.forward returned {len(tensors)} tensors; cylayers' tape "
                    "records one output tensor per Function")
        if not isinstance(out, TensorBase):
            if isinstance(out, (tuple, list)) and len(out) == 1:
                out = out[0]
            else:
                return out
        for t in ctx._dirty:
            t._bump_version()
        if not requires or id(out) in ctx._non_differentiable:
            return out
        if any(out is a for a in args):  # forward returned an input: give back an alias
            alias = TensorBase._make(out._array)
            alias._vc = out._vc
            out = alias
        ctx.next_nodes = _next_nodes(args)
        ctx._saved_versions = [(t._vc, t._vc[0]) for t in ctx.saved_tensors
                               if isinstance(t, TensorBase)]
        out._node = ctx
        out._requires_grad = True
        return out

    def _run_backward(self, g):
        grads = type(self).backward(self, TensorBase._make(g))
        grads = grads if isinstance(grads, tuple) else (grads,)
        n = len(self.next_nodes)
        if len(grads) < n:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                               f"gradients (expected {n}, got {len(grads)})")
        out = []
        for i, (grad, shape) in enumerate(zip(grads[:n], self.input_shapes)):
            if grad is None or self.next_nodes[i] is None:
                out.append(None)
                continue
            arr = grad._array if isinstance(grad, TensorBase) else np.asarray(grad)
            if shape is not None and arr.shape != shape:
                try:
                    arr = np.broadcast_to(arr, shape) if arr.size == 1 else arr
                except ValueError:
                    pass
                if arr.shape != shape:
                    raise RuntimeError(f"Function {self.name()} returned an invalid gradient "
                                       f"at index {i} - got {list(arr.shape)} but expected "
                                       f"shape compatible with {list(shape)}")
            out.append(arr)
        return tuple(out)


def once_differentiable(fn):
    """Accepted for compatibility: backward is never differentiated here anyway."""
    return fn
