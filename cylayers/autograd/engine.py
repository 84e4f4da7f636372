"""Reverse-mode traversal of the tape: iterative, so graph depth is never limited by recursion.

Nodes are Functions, and for each leaf that requires grad an AccumulateGrad node (its gradient
arrives there). Every node runs once, with the sum of all the gradients sent to it: its tensor
hooks see that total, then a Function's backward runs, or an AccumulateGrad node adds the
gradient into its leaf's .grad (or, for autograd.grad, the gradient is captured instead).
"""
import sys
import threading

import numpy as np

from cylayers._tensor_base import TensorBase
from cylayers.autograd.anomaly_mode import anomaly_state
from cylayers.autograd.function import AccumulateGrad, gradient_edge

_pending_callbacks = threading.local()


def queue_callback(fn):
    """Run ``fn()`` once the current backward pass has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``; DistributedDataParallel uses it)."""
    if not hasattr(_pending_callbacks, "fns"):
        _pending_callbacks.fns = []
    _pending_callbacks.fns.append(fn)


def _one_local_refcount():
    probe = np.empty(1)
    return sys.getrefcount(probe)


# getrefcount of an array held by exactly one local variable (calibrated, not assumed).
_SOLE_OWNER = _one_local_refcount()


def _accumulate(leaf, grad, sole_owner=False):
    """Add ``grad`` into ``leaf.grad``: in place into an existing gradient; the first one is
    adopted without a copy only when nothing else can see it (``sole_owner``): otherwise two
    leaves could share one .grad array."""
    if grad.shape != leaf._array.shape:
        raise RuntimeError(
            f"gradient of shape {grad.shape} does not match the leaf's shape {leaf._array.shape}")
    if leaf.grad is None:
        adopt = (sole_owner and grad.dtype == leaf._array.dtype and grad.base is None
                 and grad.flags.c_contiguous and grad.flags.writeable)
        leaf.grad = TensorBase._make(grad if adopt else np.array(grad, dtype=leaf._array.dtype,
                                                             order="C"))
    else:
        target = leaf.grad._array
        if target.flags.writeable and target.shape == grad.shape:
            np.add(target, grad, out=target, casting="unsafe")
            leaf.grad._bump_version()
        else:
            leaf.grad._array = target + grad.astype(leaf._array.dtype, copy=False)


def _run_hooks(hooks, grad):
    for hook in list(hooks.values()):
        result = hook(TensorBase._make(grad))
        if result is not None:
            new = result._array if isinstance(result, TensorBase) else np.asarray(result)
            if new.shape != grad.shape:
                raise RuntimeError(f"hook returned a gradient of shape {new.shape}, expected "
                                   f"{grad.shape}")
            grad = new
    return grad


def _check_nan(node, in_grads):
    for i, ig in enumerate(in_grads):
        arr = getattr(ig, "_array", ig)
        if arr is not None and np.asarray(arr).dtype.kind == "f" and np.isnan(arr).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               f"output.")


def run_backward(roots, retain_graph=False, capture=None, accumulate=True):
    """Propagate gradients from ``roots``, a list of (tensor, gradient array) pairs.

    ``capture``: tensors whose total gradient is returned (in a dict by id) instead of, for
    leaves, accumulated; ``accumulate=False`` leaves every .grad alone (autograd.grad)."""
    captured = {}
    wanted = {id(t): t for t in capture} if capture else {}
    grads, pending, stack = {}, {}, []
    for tensor, grad in roots:
        node = gradient_edge(tensor)
        if node in grads:
            grads[node] = grads[node] + grad
            continue
        grads[node] = grad
        pending[node] = 0
        stack.append(node)
    # Count, for each node, how many consumers will send it a gradient.
    seen = set(stack)
    while stack:
        n = stack.pop()
        for nxt in n.next_nodes:
            if nxt is None:
                continue
            if nxt in pending:
                pending[nxt] += 1
            else:
                pending[nxt] = 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    # A tensor asked for in capture is found through its node.
    node_of_wanted = {gradient_edge(t): t for t in wanted.values()}

    ready = [n for n in grads if pending[n] == 0]
    while ready:
        n = ready.pop()
        g = grads.pop(n)
        hooks = n.tensor_hooks
        if hooks:
            g = _run_hooks(hooks, g)
        owner = node_of_wanted.get(n)
        if type(n) is AccumulateGrad:
            leaf = n.variable
            if owner is not None:
                captured[id(owner)] = g
            elif accumulate and leaf._requires_grad:
                # Measured in its own statement: inside the call's argument list, g would also
                # be on the evaluation stack and the count would always look shared.
                sole_owner = sys.getrefcount(g) <= _SOLE_OWNER
                _accumulate(leaf, g, sole_owner)
            continue
        retained = n.retained
        if retained is not None:
            t = retained()
            if t is not None:
                if t.grad is None:
                    t.grad = TensorBase._make(np.array(g, copy=True))
                else:
                    t.grad._array = t.grad._array + g
        if owner is not None:
            captured[id(owner)] = g
        n._check_saved()
        in_grads = n._run_backward(g)
        in_grads = list(in_grads) if type(in_grads) is tuple else [in_grads]
        if anomaly_state.enabled and anomaly_state.check_nan:
            _check_nan(n, in_grads)
        next_nodes = n.next_nodes
        if not retain_graph:
            n._release()
        del g
        for i, nxt in enumerate(next_nodes):
            ig = in_grads[i]
            in_grads[i] = None
            if nxt is None:
                continue
            if ig is not None:
                prev = grads.get(nxt)
                grads[nxt] = ig if prev is None else prev + ig
            left = pending[nxt] - 1
            pending[nxt] = left
            if left == 0 and nxt in grads:
                ready.append(nxt)
            elif left == 0:
                _skip(nxt, pending, grads, ready, retain_graph)
        # Let go of the last gradient passed on: held here, it would look shared when its leaf
        # accumulates it, and be copied instead of adopted.
        ig = prev = None
    callbacks = getattr(_pending_callbacks, "fns", None)
    while callbacks:
        callbacks.pop(0)()
    return captured


def _skip(node, pending, grads, ready, retain_graph):
    """A node all of whose consumers sent no gradient (None): nothing flows through it, but the
    nodes after it still wait for its turn, so they are released in the same way."""
    todo = [node]
    while todo:
        n = todo.pop()
        if type(n) is AccumulateGrad:
            continue
        next_nodes = n.next_nodes
        if not retain_graph:
            n._release()
        for nxt in next_nodes:
            if nxt is None:
                continue
            left = pending[nxt] - 1
            pending[nxt] = left
            if left == 0:
                if nxt in grads:
                    ready.append(nxt)
                else:
                    todo.append(nxt)


def zero_grads(tensors, set_to_none=True):
    """Reset .grad of every tensor (Module.zero_grad and Optimizer.zero_grad share this)."""
    for t in tensors:
        if t.grad is None:
            continue
        if set_to_none:
            t.grad = None
        else:
            t.grad._array = np.zeros_like(t.grad._array)
