"""``torch.nn.utils``: gradient clipping, parameter/vector conversion, weight and spectral
normalization (hooks and parametrizations), parametrize, BatchNorm fusion, functional_call.

The parts built on nn.modules load on first use: nn.modules imports nn.utils.rnn, so importing
them here eagerly would put nn on an import cycle."""
import importlib

from cylayers.nn.utils.clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,
                                         clip_grads_with_norm_, get_total_norm)
from cylayers.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from cylayers.nn.utils import rnn

_LAZY = {
    "weight_norm": "hook_norms", "remove_weight_norm": "hook_norms",
    "spectral_norm": "hook_norms", "remove_spectral_norm": "hook_norms",
    "fuse_conv_bn_eval": "fusion", "fuse_conv_bn_weights": "fusion",
    "fuse_linear_bn_eval": "fusion", "fuse_linear_bn_weights": "fusion",
}
_LAZY_MODULES = ("parametrizations", "parametrize", "stateless", "fusion")


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def skip_init(module_cls, *args, **kwargs):
    """PyTorch builds the module on the meta device to skip initialization; here the module
    is built normally (its parameters are then overwritten by the caller anyway)."""
    return module_cls(*args, **kwargs)


__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm", "parameters_to_vector", "vector_to_parameters", "rnn",
           "skip_init", *_LAZY, *_LAZY_MODULES]
