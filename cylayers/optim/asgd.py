"""ASGD (averaged SGD), step for step as PyTorch's single-tensor update: eta and mu are kept as
scalars of the default float dtype, as PyTorch keeps them in tensors."""
import numpy as np

from cylayers import _dtype
from cylayers.optim.optimizer import Optimizer, implementation_flags


class ASGD(Optimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize,
                                      **implementation_flags(differentiable, foreach=foreach,
                                                             capturable=capturable)))

    def _update(self, p, grad, state, group):
        scalar = _dtype.default_float().type
        if not state:
            state["step"] = 0.0
            state["eta"] = scalar(group["lr"])
            state["mu"] = scalar(1.0)
            state["ax"] = np.zeros_like(p)
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + p.dtype.type(group["weight_decay"]) * p
        eta = float(state["eta"])
        lambd, lr, alpha, t0 = group["lambd"], group["lr"], group["alpha"], group["t0"]
        p *= p.dtype.type(1 - lambd * eta)
        p -= p.dtype.type(eta) * grad
        ax = state["ax"]
        if float(state["mu"]) != 1:
            ax += (p - ax) * p.dtype.type(float(state["mu"]))
        else:
            ax[...] = p
        step = state["step"]
        state["eta"] = scalar(lr / ((1 + lambd * lr * step) ** alpha))
        state["mu"] = scalar(1 / max(1, step - t0))
