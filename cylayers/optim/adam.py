"""Adam and AdamW, following PyTorch's single-tensor update order."""
import math

import numpy as np

from cylayers._kernels import optim as _kernels
from cylayers._threads import threads_for
from cylayers.optim.optimizer import Optimizer, check_hyperparameters, implementation_flags

_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_hyperparameters(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      **implementation_flags(differentiable, foreach=foreach,
                                                             capturable=capturable,
                                                             fused=fused)))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        arrays = [p, state["exp_avg"], state["exp_avg_sq"]] + (
            [state["max_exp_avg_sq"]] if group["amsgrad"] else [])
        if (p.dtype in _FLOAT and grad.dtype == p.dtype and grad.shape == p.shape
                and grad.flags.c_contiguous
                and all(a.flags.c_contiguous and a.flags.writeable and a.dtype == p.dtype
                        and a.shape == p.shape for a in arrays)):
            beta1, beta2 = group["betas"]
            step_size, bias_correction2_sqrt = _bias_corrections(group, state["step"])
            maxes = arrays[3] if group["amsgrad"] else np.empty(0, p.dtype)
            _kernels.adam_step(p.reshape(-1), grad.reshape(-1), arrays[1].reshape(-1),
                               arrays[2].reshape(-1), maxes.reshape(-1), group["lr"], beta1,
                               beta2, group["eps"], group["weight_decay"],
                               bool(group.get("decoupled_weight_decay")), group["maximize"],
                               step_size, bias_correction2_sqrt, threads_for(p.size))
        else:
            adam_reference(p, grad, state, group)


def _bias_corrections(group, step):
    """lr / (1 - beta1^step) and sqrt(1 - beta2^step)."""
    beta1, beta2 = group["betas"]
    return group["lr"] / (1 - beta1 ** step), math.sqrt(1 - beta2 ** step)


def adam_reference(p, grad, state, group):
    """The same step with numpy, one operation at a time (any dtype; the kernel's reference)."""
    beta1, beta2 = group["betas"]
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    step = state["step"]
    if group["maximize"]:
        grad = -grad
    if wd != 0:
        if group.get("decoupled_weight_decay"):
            p *= 1 - lr * wd
        else:
            grad = grad + wd * p
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg += (1 - beta1) * (grad - exp_avg)          # lerp toward grad
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    step_size, bias_correction2_sqrt = _bias_corrections(group, step)
    if group["amsgrad"]:
        np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        denom = np.sqrt(state["max_exp_avg_sq"]) / bias_correction2_sqrt + eps
    else:
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
    p -= step_size * (exp_avg / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01, as in PyTorch)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         foreach=foreach, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
