"""Optimizer base: parameter groups, per-parameter state, state_dict in PyTorch's layout."""
import copy

import numpy as np

from cylayers._tensor import Tensor, writing
from cylayers.autograd.engine import zero_grads
from cylayers.autograd.grad_mode import enable_grad, no_grad


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def implementation_flags(differentiable=False, **switches):
    """PyTorch's implementation switches, as group entries. ``foreach``/``fused`` pick among
    PyTorch kernels computing the same update, and ``capturable`` is for CUDA graphs: here
    they change nothing and are accepted. ``differentiable=True`` would let autograd see the
    update itself, which cylayers does not record: refused rather than silently ignored."""
    if differentiable:
        raise NotImplementedError("differentiable=True (autograd through the optimizer step) "
                                  "is not supported by cylayers")
    return dict(differentiable=False, **switches)


def check_hyperparameters(lr, eps, betas=None, weight_decay=0.0):
    """PyTorch's argument checks, with its messages, for the Adam family."""
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps < 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i, beta in enumerate(betas or ()):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
    if weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        zero_grads((p for g in self.param_groups for p in g["params"]), set_to_none)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True  # lets schedulers warn when they step first, as PyTorch's do
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.setdefault(p, {})
                    with writing(p) as (value,):  # the update is in place, like PyTorch's
                        self._update(value, p.grad._array, state, group)
        return loss

    def _update(self, value, grad, state, group):
        """Update the parameter's array ``value`` in place from its gradient's."""
        raise NotImplementedError

    # ---------------------------------------------------------------- state
    def state_dict(self):
        index = {}
        groups = []
        for g in self.param_groups:
            entry = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            entry["params"] = ids
            groups.append(entry)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (Tensor._make(v.copy()) if isinstance(v, np.ndarray) else v)
                        for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        params = [p for g in self.param_groups for p in g["params"]]
        saved_ids = [i for g in groups for i in g["params"]]
        if len(saved_ids) != len(params):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        for g, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    g[k] = copy.deepcopy(v)
        id_to_param = dict(zip(saved_ids, params))
        self.state = {}
        for key, st in state_dict["state"].items():
            p = id_to_param[int(key)]
            restored = {}
            for k, v in st.items():
                if isinstance(v, Tensor):
                    v = v._array
                if isinstance(v, np.ndarray) and v.ndim > 0:
                    if v.shape != p._array.shape:
                        raise ValueError(f"optimizer state {k!r} for parameter {key} has shape "
                                         f"{v.shape}, expected {p._array.shape}")
                    v = v.astype(p._array.dtype, copy=True)
                elif isinstance(v, np.ndarray):
                    v = v.item()
                restored[k] = v
            self.state[p] = restored

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
