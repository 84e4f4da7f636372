"""Adamax (Adam with the infinity norm), step for step as PyTorch's single-tensor update."""
import numpy as np

from cylayers.optim.optimizer import Optimizer, check_hyperparameters, implementation_flags


class Adamax(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_hyperparameters(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=maximize,
                                      **implementation_flags(differentiable, foreach=foreach,
                                                             capturable=capturable)))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_inf"] = np.zeros_like(p)
        state["step"] += 1
        (beta1, beta2), t = group["betas"], p.dtype.type
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + t(group["weight_decay"]) * p
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg += t(1 - beta1) * (grad - exp_avg)  # lerp toward grad
        exp_inf *= t(beta2)
        np.maximum(exp_inf, np.abs(grad) + t(group["eps"]), out=exp_inf)
        clr = group["lr"] / (1 - beta1 ** state["step"])
        p -= t(clr) * (exp_avg / exp_inf)
