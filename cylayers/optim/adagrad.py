"""Adagrad, step for step as PyTorch."""
import numpy as np

from cylayers.optim.optimizer import Optimizer, implementation_flags


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        for name, value in (("learning rate", lr), ("lr_decay value", lr_decay),
                            ("weight_decay value", weight_decay),
                            ("initial_accumulator_value value", initial_accumulator_value),
                            ("epsilon value", eps)):
            if value < 0.0:
                raise ValueError(f"Invalid {name}: {value}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize,
                                      **implementation_flags(differentiable, foreach=foreach,
                                                             fused=fused)))
        # PyTorch creates the state up front, so the accumulator's start value is in it at once.
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0.0, "sum": np.full_like(
                    p._array, group["initial_accumulator_value"])}

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0.0
            state["sum"] = np.full_like(p, group["initial_accumulator_value"])
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        p -= clr * (grad / (np.sqrt(state["sum"]) + group["eps"]))
