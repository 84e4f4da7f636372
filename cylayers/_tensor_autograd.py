"""Tensor's entry points into the tape: backward and gradient hooks."""
from cylayers.autograd.api import backward as _run_backward
from cylayers.utils.hooks import RemovableHandle


class AutogradMethods:
    __slots__ = ()

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        _run_backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self._node
        if node is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:
            if node.tensor_hooks is None:
                node.tensor_hooks = {}
            hooks = node.tensor_hooks
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle
