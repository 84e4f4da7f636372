"""Gradient clipping, in place on the parameters' .grad (PyTorch's clip_grad_norm_ /
clip_grad_value_)."""
import numpy as np

from cylayers._tensor import Tensor
from cylayers.autograd.grad_mode import no_grad


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm_type-norm of all the tensors together (each tensor's norm, then the norm of
    those norms, in their dtype as PyTorch); a 0-d tensor."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._make(np.asarray(0.0, dtype=np.float32))
    dtype = tensors[0]._array.dtype
    if norm_type == np.inf:
        norms = [np.max(np.abs(g._array)) if g._array.size else dtype.type(0) for g in tensors]
        total = np.max(np.asarray(norms, dtype=dtype))
    elif norm_type == -np.inf:
        norms = [np.min(np.abs(g._array)) for g in tensors if g._array.size]
        total = np.min(np.asarray(norms, dtype=dtype))
    else:
        norms = np.asarray([np.sum(np.abs(g._array.astype(np.float64)) ** norm_type)
                            ** (1.0 / norm_type) for g in tensors], dtype=dtype)
        total = np.sum(np.abs(norms.astype(np.float64)) ** norm_type) ** (1.0 / norm_type)
    total = np.asarray(total, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return Tensor._make(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), in place."""
    grads = _grads(parameters)
    if not grads:
        return
    total = np.asarray(total_norm._array if isinstance(total_norm, Tensor) else total_norm)
    dtype = total.dtype if total.dtype.kind == "f" else grads[0]._array.dtype
    coef = np.minimum(dtype.type(float(max_norm)) / (total.astype(dtype) + dtype.type(1e-6)),
                      dtype.type(1.0))
    with no_grad():
        for g in grads:
            g.mul_(Tensor._make(coef.astype(g._array.dtype)))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
    norm_type-norm of all gradients together; returns total_norm (a 0-d tensor). ``foreach``
    is accepted (one loop here either way)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of clip_grad_norm_, kept as PyTorch keeps it."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
