"""Adadelta, step for step as PyTorch's single-tensor update."""
import numpy as np

from cylayers.optim.optimizer import Optimizer, check_hyperparameters, implementation_flags


class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_hyperparameters(lr, eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize,
                                      **implementation_flags(differentiable, foreach=foreach,
                                                             capturable=capturable)))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0.0
            state["square_avg"] = np.zeros_like(p)
            state["acc_delta"] = np.zeros_like(p)
        state["step"] += 1
        rho, eps, t = group["rho"], group["eps"], p.dtype.type
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + t(group["weight_decay"]) * p
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= t(rho)
        square_avg += t(1 - rho) * (grad * grad)
        std = np.sqrt(square_avg + t(eps))
        delta = np.sqrt(acc_delta + t(eps))
        delta /= std
        delta *= grad
        acc_delta *= t(rho)
        acc_delta += t(1 - rho) * (delta * delta)
        p -= t(group["lr"]) * delta
