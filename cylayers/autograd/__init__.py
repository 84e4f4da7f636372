"""The tape: Function (forward/backward pairs), the backward engine, grad mode, gradcheck."""
from cylayers.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                         is_inference_mode_enabled, no_grad, set_grad_enabled)
from cylayers.autograd.custom import Function, once_differentiable
from cylayers.autograd.gradcheck import gradcheck, GradcheckError
from cylayers.autograd.api import backward, grad
