"""torch.autograd.backward / torch.autograd.grad on cylayers' engine."""
import numpy as np

from cylayers._tensor_base import Size, TensorBase
from cylayers.autograd.engine import _accumulate, run_backward


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_gradients(tensors, grad_tensors, check_requires_grad=True):
    grad_tensors = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got "
                           f"{len(grad_tensors)} gradients for {len(tensors)} tensors")
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, TensorBase):
            raise TypeError(f"expected a Tensor, got {type(t).__name__}")
        if check_requires_grad and not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        if g is None:
            if t._array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            grad = np.ones_like(t._array)
        else:
            grad = np.asarray(g._array if isinstance(g, TensorBase) else g, dtype=t._array.dtype)
            if grad.shape != t._array.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{Size(grad.shape)} and output[{i}] has a shape of "
                                   f"{Size(t._array.shape)}.")
        roots.append((t, grad))
    return roots


def _refuse_create_graph(create_graph):
    if create_graph:
        raise NotImplementedError(
            "create_graph=True: cylayers does not record the backward pass on the tape, so "
            "higher-order gradients (grad of a grad) are not supported")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` into the leaves' .grad (only into ``inputs``'
    when given)."""
    _refuse_create_graph(create_graph)
    tensors = _as_tuple(tensors)
    roots = _root_gradients(tensors, grad_tensors)
    if inputs is None:
        run_backward(roots, retain_graph=bool(retain_graph))
        return
    inputs = _as_tuple(inputs)
    captured = run_backward(roots, retain_graph=bool(retain_graph), capture=inputs,
                            accumulate=False)
    for t in inputs:
        g = captured.get(id(t))
        if g is None:
            continue
        if t._node is None:
            _accumulate(t, g)
        else:  # a non-leaf input: its .grad, as if it had retain_grad()
            t.grad = TensorBase._make(np.array(g)) if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated into
    any .grad (PyTorch's torch.autograd.grad)."""
    _refuse_create_graph(create_graph)
    if is_grads_batched:
        raise NotImplementedError("is_grads_batched=True is not supported by cylayers")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    for t in inputs:
        if not isinstance(t, TensorBase) or not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots = _root_gradients(outputs, grad_outputs)
    captured = run_backward(roots, retain_graph=bool(retain_graph), capture=inputs,
                            accumulate=False)
    result = []
    for t in inputs:
        g = captured.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            result.append(TensorBase._make(np.zeros_like(t._array)) if materialize_grads else None)
        else:
            result.append(TensorBase._make(np.array(g, dtype=t._array.dtype)))
    return tuple(result)
