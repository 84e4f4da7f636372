"""Stochastic weight averaging (``torch.optim.swa_utils``): AveragedModel keeps a running
(or exponential) average of a model's parameters, SWALR anneals each group's lr to its SWA
lr, update_bn recomputes BatchNorm statistics for the averaged weights."""
import copy
import math

import numpy as np

from cylayers._tensor import Tensor
from cylayers.autograd.grad_mode import no_grad
from cylayers.nn.modules.batchnorm import _NormBase
from cylayers.nn.modules.module import Module
from cylayers.optim.lr_scheduler import LRScheduler, per_group_values


def get_ema_multi_avg_fn(decay=0.999):
    def ema_update(ema_params, current_params, num_averaged):
        for e, c in zip(ema_params, current_params):
            e.copy_(e + (c - e) * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    def swa_update(averaged_params, current_params, num_averaged):
        n = num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged
        for a, c in zip(averaged_params, current_params):
            a.copy_(a + (c - a) / (n + 1))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    def swa_update(averaged_param, current_param, num_averaged):
        n = num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged
        return averaged_param + (current_param - averaged_param) / (n + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and buffers, with use_buffers) follow the average
    of the model's over update_parameters calls; ``n_averaged`` counts them."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", Tensor._make(np.zeros((), np.int64)))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tracked(self, module):
        params = list(module.parameters())
        return params + list(module.buffers()) if self.use_buffers else params

    def update_parameters(self, model):
        averaged, current = self._tracked(self.module), self._tracked(model)
        n = int(self.n_averaged.item())
        with no_grad():
            floats = [(a, c.detach()) for a, c in zip(averaged, current)
                      if a.is_floating_point()]
            if n == 0:
                for a, c in zip(averaged, current):
                    a.copy_(c.detach())
            elif self.multi_avg_fn is not None:
                self.multi_avg_fn([a for a, _ in floats], [c for _, c in floats],
                                  self.n_averaged)
            elif self.avg_fn is not None:
                for a, c in floats:
                    a.copy_(self.avg_fn(a, c, self.n_averaged))
            else:
                get_swa_multi_avg_fn()([a for a, _ in floats], [c for _, c in floats], n)
        if not self.use_buffers:  # the buffers follow the model's (update_bn recomputes them)
            for a, c in zip(self.module.buffers(), model.buffers()):
                a.copy_(c.detach())
        with no_grad():
            self.n_averaged.fill_(n + 1)


def update_bn(loader, model, device=None):
    """One pass over ``loader`` in training mode with cumulative BatchNorm statistics, so the
    running mean and variance fit the (averaged) weights."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _NormBase) and module.track_running_stats:
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            model(batch[0] if isinstance(batch, (list, tuple)) else batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's lr from its value to ``swa_lr`` over anneal_epochs (cosine or
    linear), then holds it."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        for lr, group in zip(per_group_values("swa_lr", optimizer, swa_lr),
                             optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got "
                             f"{anneal_epochs}")
        self.anneal_strategy, self.anneal_epochs = anneal_strategy, anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _anneal(self, t):
        return t if self.anneal_strategy == "linear" else (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _initial_lr(lr, swa_lr, alpha):
        return swa_lr if alpha == 1 else (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self._anneal(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev = [self._initial_lr(g["lr"], g["swa_lr"], prev_alpha)
                for g in self.optimizer.param_groups]
        alpha = self._anneal(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha)
                for g, lr in zip(self.optimizer.param_groups, prev)]
