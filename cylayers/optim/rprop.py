"""Rprop (resilient backpropagation): per-element step sizes that grow while the gradient keeps
its sign and shrink when it flips, step for step as PyTorch's single-tensor update."""
import numpy as np

from cylayers.optim.optimizer import Optimizer, implementation_flags


class Rprop(Optimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                                      maximize=maximize,
                                      **implementation_flags(differentiable, foreach=foreach,
                                                             capturable=capturable)))

    def _update(self, p, grad, state, group):
        t = p.dtype.type
        if not state:
            state["step"] = 0.0
            state["prev"] = np.zeros_like(p)
            state["step_size"] = np.full_like(p, group["lr"])
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        eta_minus, eta_plus = group["etas"]
        low, high = group["step_sizes"]
        agreement = np.sign(grad * state["prev"])
        factor = np.where(agreement > 0, t(eta_plus), np.where(agreement < 0, t(eta_minus),
                                                               t(1)))
        step_size = state["step_size"]
        step_size *= factor
        np.clip(step_size, t(low), t(high), out=step_size)
        grad = np.where(factor == t(eta_minus), t(0), grad)  # a sign flip: no step this time
        p -= np.sign(grad) * step_size
        state["prev"][...] = grad
