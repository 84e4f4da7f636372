"""The tape: Function (forward/backward pairs), the backward engine, grad mode, gradcheck."""
from cylayers.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                         is_inference_mode_enabled, no_grad, set_grad_enabled)
from cylayers.autograd.custom import Function, once_differentiable
from cylayers.autograd.gradcheck import gradcheck, GradcheckError
from cylayers.autograd.api import backward, grad
from cylayers.autograd.anomaly_mode import (detect_anomaly, is_anomaly_check_nan_enabled,
                                           is_anomaly_enabled, set_detect_anomaly)
from cylayers.autograd import functional
from cylayers._tensor_base import TensorBase as _Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _Tensor)


class Variable(metaclass=_VariableMeta):
    """PyTorch's legacy ``Variable(tensor, requires_grad=...)``: since PyTorch 0.4 every tensor
    is a Variable, so this returns the tensor (with requires_grad set when asked)."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        tensor = data if isinstance(data, _Tensor) else _Tensor(data)
        if requires_grad:
            tensor.requires_grad_(True)
        return tensor
