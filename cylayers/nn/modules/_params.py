"""Parameter set-up shared by several layers."""
import math

from cylayers import _creation
from cylayers.nn import init
from cylayers.nn.parameter import Parameter


def register_affine(module, shape, affine, bias, dtype):
    """weight (and, when ``bias``, bias) Parameters of ``shape``, or None entries when not
    ``affine``: the scale/shift of the normalization layers."""
    if affine:
        module.weight = Parameter(_creation.empty(*shape, dtype=dtype))
        if bias:
            module.bias = Parameter(_creation.empty(*shape, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def reset_affine(weight, bias):
    """Normalization layers start as the identity: weight 1, bias 0."""
    if weight is not None:
        init.ones_(weight)
    if bias is not None:
        init.zeros_(bias)


def reset_linear_like(weight, bias):
    """PyTorch's default for Linear and Conv: kaiming_uniform(a=sqrt(5)) weights, so
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias from the same range."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)
