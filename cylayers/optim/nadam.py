"""NAdam (Adam with Nesterov momentum and momentum decay), step for step as PyTorch's
single-tensor update."""
import numpy as np

from cylayers import _dtype
from cylayers.optim.optimizer import Optimizer, check_hyperparameters, implementation_flags


class NAdam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_hyperparameters(lr, eps, betas, weight_decay)
        if momentum_decay < 0.0:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize,
                                      **implementation_flags(differentiable, foreach=foreach,
                                                             capturable=capturable)))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0.0
            # PyTorch keeps this product as a tensor of the default dtype's scalar type
            # (float32 unless the default is float64), rounded at every step.
            state["mu_product"] = _dtype.default_float().type(1.0)
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        step, lr, wd, t = state["step"], group["lr"], group["weight_decay"], p.dtype.type
        (beta1, beta2), decay = group["betas"], group["momentum_decay"]
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= t(1 - lr * wd)
            else:
                grad = grad + t(wd) * p
        bias_correction2 = 1 - beta2 ** step
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        state["mu_product"] = state["mu_product"] * state["mu_product"].dtype.type(mu)
        mu_product = float(state["mu_product"])
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += t(1 - beta1) * (grad - exp_avg)  # lerp toward grad
        exp_avg_sq *= t(beta2)
        exp_avg_sq += t(1 - beta2) * (grad * grad)
        denom = np.sqrt(exp_avg_sq / t(bias_correction2)) + t(group["eps"])
        p += t(-lr * (1.0 - mu) / (1.0 - mu_product)) * (grad / denom)
        p += t(-lr * mu_next / (1.0 - mu_product * mu_next)) * (exp_avg / denom)
