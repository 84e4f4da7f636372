"""PyTorch's hook-based weight and spectral normalization (``nn.utils.weight_norm`` and
``nn.utils.spectral_norm``): the weight is recomputed before every forward from the
parameters that replace it (weight_g / weight_v; weight_orig with the power iteration's u and
v buffers), with PyTorch's state_dict keys."""
import warnings

import numpy as np

from cylayers._tensor import Tensor, writing
from cylayers.autograd.grad_mode import no_grad
from cylayers.nn.parameter import Parameter
from cylayers.random import get_generator


def _pre_hooks(module):
    return module.__dict__.get("_forward_pre_hooks", {})


def _norm_except_dim(v, dim):
    """||v|| over every dim but ``dim`` (all of them for dim=None / -1 on a vector), keeping
    dims so that it broadcasts against v."""
    if dim is None or dim == -1 and v.dim() == 1:
        return v.norm()
    d = dim % v.dim()
    others = tuple(i for i in range(v.dim()) if i != d)
    return v.norm(2, dim=others, keepdim=True) if others else v.abs()


class _WeightNormHook:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute(module))


def weight_norm(module, name="weight", dim=0):
    """w = g * v / ||v||: ``name`` becomes ``name_g`` (the norms) and ``name_v`` (the
    direction), and is recomputed before each forward."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    for hook, _ in _pre_hooks(module).values():
        if isinstance(hook, _WeightNormHook) and hook.name == name:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                               f"{name}")
    weight = getattr(module, name)
    hook = _WeightNormHook(name, dim)
    del module._parameters[name]
    with no_grad():
        g = _norm_except_dim(weight, dim)
    module.register_parameter(name + "_g", Parameter(g.detach().clone()))
    module.register_parameter(name + "_v", Parameter(weight.detach().clone()))
    object.__setattr__(module, name, hook.compute(module))
    module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module, name="weight"):
    for key, (hook, _) in list(_pre_hooks(module).items()):
        if isinstance(hook, _WeightNormHook) and hook.name == name:
            weight = hook.compute(module).detach()
            del _pre_hooks(module)[key]
            del module._parameters[name + "_g"], module._parameters[name + "_v"]
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(weight))
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


def _normalize(x, eps):
    return x / max(float(np.linalg.norm(x)), eps)


class _SpectralNormHook:
    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, \
            dim, eps

    def _matrix(self, weight):
        w = weight
        if self.dim != 0:
            w = w.permute(self.dim, *[d for d in range(w.dim()) if d != self.dim])
        return w.reshape(w.shape[0], -1)

    def compute(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        mat = self._matrix(weight)
        if do_power_iteration:
            m = mat.detach()._array
            with writing(u, v) as (uu, vv):
                for _ in range(self.n_power_iterations):
                    vv[...] = _normalize(m.T @ uu, self.eps)
                    uu[...] = _normalize(m @ vv, self.eps)
        u_c, v_c = u.clone(), v.clone()  # PyTorch uses copies, so backward sees these values
        sigma = (u_c * (mat @ v_c)).sum()
        return weight / sigma

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """w / sigma(w), sigma the largest singular value estimated by power iteration (one step
    per forward in training): ``name`` becomes ``name_orig`` with buffers ``name_u`` and
    ``name_v``."""
    if n_power_iterations <= 0:
        raise ValueError(f"Expected n_power_iterations to be positive, but got "
                         f"n_power_iterations={n_power_iterations}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    weight = getattr(module, name)
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    mat = hook._matrix(weight).detach()._array
    rng = get_generator()
    u = _normalize(rng.standard_normal(mat.shape[0]), eps).astype(mat.dtype)
    v = _normalize(rng.standard_normal(mat.shape[1]), eps).astype(mat.dtype)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach() * 1)
    module.register_buffer(name + "_u", Tensor._make(u))
    module.register_buffer(name + "_v", Tensor._make(v))
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    for key, (hook, _) in list(_pre_hooks(module).items()):
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            with no_grad():
                weight = hook.compute(module, False).detach()
            del _pre_hooks(module)[key]
            del module._parameters[name + "_orig"]
            del module._buffers[name + "_u"], module._buffers[name + "_v"]
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(weight))
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
