"""Module hooks: forward pre-hooks, forward hooks, and full backward (pre-)hooks.

Backward hooks follow PyTorch's design: the module's tensor outputs pass through one identity
node that sees grad_output (and runs the backward pre-hooks), its tensor inputs through another
that sees grad_input and runs the backward hooks. With no input requiring grad, the hooks run
from the output node with grad_input all None, as in PyTorch."""
import warnings

import numpy as np

from cylayers._tensor import Tensor
from cylayers.autograd.function import Function
from cylayers.autograd.grad_mode import grad_state

_HOOK_STORES = ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks",
                "_backward_pre_hooks")


def call_with_hooks(module, args, kwargs):
    for hook, flags in list(module._forward_pre_hooks.values()):
        if flags.get("with_kwargs"):
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("forward pre-hook must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {result}.")
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    state = None
    wants_backward = (module._backward_hooks or module._backward_pre_hooks) and \
        grad_state.enabled
    if wants_backward:
        state = _BackwardState(module, args)
        args = state.wrap_inputs(args)
    output = module.forward(*args, **kwargs)
    for hook, flags in list(module._forward_hooks.values()):
        result = (hook(module, args, kwargs, output) if flags.get("with_kwargs")
                  else hook(module, args, output))
        if result is not None:
            output = result
    if state is not None:
        output = state.wrap_output(output)
    return output


class _BackwardState:
    """What one call's backward hooks share: grad_output, caught at the output node."""

    def __init__(self, module, args):
        self.module = module
        self.n_inputs = len(args)
        self.grad_output = None
        self.input_positions = [i for i, a in enumerate(args)
                                if isinstance(a, Tensor) and a.requires_grad]

    def wrap_inputs(self, args):
        if not self.input_positions or not self.module._backward_hooks:
            self.input_positions = [] if not self.module._backward_hooks else \
                self.input_positions
            return args
        if len(self.input_positions) > 1:
            raise NotImplementedError(
                "register_full_backward_hook: cylayers supports modules called with one input "
                f"tensor that requires grad; {type(self.module).__name__} got "
                f"{len(self.input_positions)}")
        args = list(args)
        i = self.input_positions[0]
        args[i] = _InputHook.apply(args[i], self)
        return tuple(args)

    def wrap_output(self, output):
        if isinstance(output, Tensor):
            if not output.requires_grad:
                return output
            return _OutputHook.apply(output, self)
        raise NotImplementedError(
            "full backward hooks: cylayers supports modules whose forward returns one tensor; "
            f"{type(self.module).__name__} returned {type(output).__name__}")

    def run_hooks(self, grad_input):
        for hook, _ in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                if not self.input_positions:
                    if not (isinstance(result, tuple) and all(r is None for r in result)):
                        raise RuntimeError("Backward hook for Modules where no input requires "
                                           "gradient should always return None or None for "
                                           "all gradients.")
                    continue
                grad_input = tuple(result)
        return grad_input


def _as_array(value):
    return None if value is None else (value._array if isinstance(value, Tensor)
                                       else np.asarray(value))


class _IdentityHook(Function):
    """An identity on the tape whose backward runs the module's hooks (subclasses)."""
    returns_view = True  # the same storage as its input: one version counter

    @staticmethod
    def forward(ctx, x, state):
        ctx.state = state
        return x.view()


class _OutputHook(_IdentityHook):
    @staticmethod
    def backward(ctx, g):
        state = ctx.state
        grad_output = (Tensor._make(g),)
        for hook, _ in list(state.module._backward_pre_hooks.values()):
            result = hook(state.module, grad_output)
            if result is not None:
                grad_output = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        state.grad_output = grad_output
        if not state.input_positions and state.module._backward_hooks:
            warnings.warn("Full backward hook is firing when gradients are computed with "
                          "respect to module outputs since no inputs require gradients.",
                          UserWarning, stacklevel=2)
            state.run_hooks((None,) * state.n_inputs)
        return _as_array(grad_output[0]), None


class _InputHook(_IdentityHook):
    @staticmethod
    def backward(ctx, g):
        state = ctx.state
        grad_input = [None] * state.n_inputs
        grad_input[state.input_positions[0]] = Tensor._make(g)
        grad_input = state.run_hooks(tuple(grad_input))
        return _as_array(grad_input[state.input_positions[0]]), None
