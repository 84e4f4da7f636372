"""Reverse-mode traversal of the tape: iterative, so graph depth is never limited by recursion."""
import sys

import numpy as np


def _one_local_refcount():
    probe = np.empty(1)
    return sys.getrefcount(probe)


# getrefcount of an array held by exactly one local variable (calibrated, not assumed).
_SOLE_OWNER = _one_local_refcount()


def _accumulate(leaf, grad, sole_owner=False):
    """Add ``grad`` into ``leaf.grad``. The first gradient is adopted without a copy only when
    nothing else can see it (``sole_owner``): otherwise two leaves could share one .grad array."""
    from cylayers._tensor import Tensor
    if grad.shape != leaf._array.shape:
        raise RuntimeError(
            f"gradient of shape {grad.shape} does not match the leaf's shape {leaf._array.shape}")
    if leaf.grad is None:
        adopt = (sole_owner and grad.dtype == leaf._array.dtype and grad.base is None
                 and grad.flags.c_contiguous and grad.flags.writeable)
        leaf.grad = Tensor._make(grad if adopt else np.array(grad, dtype=leaf._array.dtype,
                                                             order="C"))
    else:
        leaf.grad._array = leaf.grad._array + grad.astype(leaf._array.dtype, copy=False)


def run_backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (array shaped like root) from tensor ``root`` to every leaf."""
    from cylayers._tensor import Tensor
    node = root._node
    if node is None:
        _accumulate(root, grad)
        return
    # Count, for each node, how many consumers will send it a gradient.
    pending = {node: 0}
    stack = [node]
    while stack:
        n = stack.pop()
        for nxt in n.next_nodes:
            if nxt is None or isinstance(nxt, Tensor):
                continue
            if nxt in pending:
                pending[nxt] += 1
            else:
                pending[nxt] = 1
                stack.append(nxt)

    grads = {node: grad}
    ready = [node]
    while ready:
        n = ready.pop()
        g = grads.pop(n)
        n._check_saved()
        in_grads = n.backward(n, g)
        in_grads = list(in_grads) if type(in_grads) is tuple else [in_grads]
        next_nodes = n.next_nodes
        if not retain_graph:
            n._release()
        del g
        for i, nxt in enumerate(next_nodes):
            ig = in_grads[i]
            in_grads[i] = None
            if nxt is None or ig is None:
                continue
            if isinstance(nxt, Tensor):
                # Measured in its own statement: inside the call's argument list, ig would also
                # be on the evaluation stack and the count would always look shared.
                sole_owner = sys.getrefcount(ig) <= _SOLE_OWNER
                _accumulate(nxt, ig, sole_owner)
                continue
            prev = grads.get(nxt)
            grads[nxt] = ig if prev is None else prev + ig
            left = pending[nxt] - 1
            pending[nxt] = left
            if left == 0:
                ready.append(nxt)


def zero_grads(tensors, set_to_none=True):
    """Reset .grad of every tensor (Module.zero_grad and Optimizer.zero_grad share this)."""
    for t in tensors:
        if t.grad is None:
            continue
        if set_to_none:
            t.grad = None
        else:
            t.grad._array = np.zeros_like(t.grad._array)
