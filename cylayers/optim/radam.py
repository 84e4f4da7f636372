"""RAdam (Adam with the variance of its adaptive rate rectified), step for step as PyTorch's
single-tensor update."""
import math

import numpy as np

from cylayers.optim.optimizer import Optimizer, check_hyperparameters, implementation_flags


class RAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_hyperparameters(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize,
                                      **implementation_flags(differentiable, foreach=foreach,
                                                             capturable=capturable)))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        step, lr, wd, t = state["step"], group["lr"], group["weight_decay"], p.dtype.type
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= t(1 - lr * wd)
            else:
                grad = grad + t(wd) * p
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += t(1 - beta1) * (grad - exp_avg)  # lerp toward grad
        exp_avg_sq *= t(beta2)
        exp_avg_sq += t(1 - beta2) * (grad * grad)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        corrected = exp_avg / t(bias_correction1)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = t(math.sqrt(bias_correction2)) / (np.sqrt(exp_avg_sq) + t(group["eps"]))
            p -= corrected * t(lr) * adaptive * t(rect)
        else:
            p -= corrected * t(lr)
