"""Reverse-mode traversal of the tape: iterative, so graph depth is never limited by recursion."""
import sys

import numpy as np


def _owned(arr, dtype):
    """An array the leaf may keep as its .grad: contiguous, writable, not shared with the graph."""
    # Three references are ours (the caller's local, this frame's argument, getrefcount's own);
    # more means another op may still read the array, so the leaf gets a copy.
    if (arr.dtype == dtype and arr.base is None and arr.flags.c_contiguous
            and arr.flags.writeable and sys.getrefcount(arr) <= 3):
        return arr
    return np.array(arr, dtype=dtype, order="C")


def _accumulate(leaf, grad):
    from cylayers._tensor import Tensor
    if grad.shape != leaf.data.shape:
        raise RuntimeError(
            f"gradient of shape {grad.shape} does not match the leaf's shape {leaf.data.shape}")
    if leaf.grad is None:
        leaf.grad = Tensor._make(_owned(grad, leaf.data.dtype), False)
    else:
        leaf.grad.data = leaf.grad.data + grad.astype(leaf.data.dtype, copy=False)


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
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        next_nodes = n.next_nodes
        if not retain_graph:
            n._release()
        del g
        for nxt, ig in zip(next_nodes, in_grads):
            if nxt is None or ig is None:
                continue
            if isinstance(nxt, Tensor):
                _accumulate(nxt, ig)
                continue
            prev = grads.get(nxt)
            grads[nxt] = ig if prev is None else prev + ig
            left = pending[nxt] - 1
            pending[nxt] = left
            if left == 0:
                ready.append(nxt)
