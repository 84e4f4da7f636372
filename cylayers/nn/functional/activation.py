"""F.relu and the other activations: PyTorch's argument checks and in-place forms over the ops
of cylayers._ops.activation (which run on the Cython kernels)."""
from cylayers._ops.activation import (ELUFn, GELUFn, HardsigmoidFn, HardswishFn, HardtanhFn,
                                      LeakyReLUFn, MishFn, PReLUFn, ReLUFn, SiLUFn, SigmoidFn,
                                      SoftmaxFn, SoftplusFn, TanhFn)

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _apply(fn_cls, input, inplace, *params):
    if inplace:
        return fn_cls.apply_inplace(input, *params)
    return fn_cls.apply(input, *params)


# ---------------------------------------------------------------- functional API
def relu(input, inplace=False):
    if not input.is_floating_point():  # integer tensors: the Tensor method keeps their dtype
        return input.relu_() if inplace else input.relu()
    return _apply(ReLUFn, input, inplace)


def relu_(input):
    return relu(input, inplace=True)


def sigmoid(input, inplace=False):
    if not inplace and not input.is_floating_point():
        return input.sigmoid()  # in the default float dtype
    return _apply(SigmoidFn, input, inplace)


def tanh(input, inplace=False):
    if not inplace and not input.is_floating_point():
        return input.tanh()
    return _apply(TanhFn, input, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply(HardtanhFn, input, inplace, float(min_val), float(max_val))


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace and negative_slope <= 0 and input.requires_grad:
        raise RuntimeError("In-place leakyReLu backward calculation is triggered with a "
                           "non-positive slope which is not supported. This is caused by "
                           "calling in-place forward function with a non-positive slope, "
                           "please call out-of-place version instead.")
    return _apply(LeakyReLUFn, input, inplace, float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    if inplace and alpha < 0 and input.requires_grad:
        raise RuntimeError("In-place elu backward calculation is triggered with a negative "
                           "slope which is not supported.")
    return _apply(ELUFn, input, inplace, float(alpha), 1.0, 1.0)


def selu(input, inplace=False):
    return _apply(ELUFn, input, inplace, SELU_ALPHA, SELU_SCALE, 1.0)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise ValueError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _apply(ELUFn, input, inplace, float(alpha), 1.0, 1.0 / alpha)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return GELUFn.apply(input, approximate == "tanh")


def silu(input, inplace=False):
    return _apply(SiLUFn, input, inplace)


def hardsigmoid(input, inplace=False):
    return _apply(HardsigmoidFn, input, inplace)


def hardswish(input, inplace=False):
    return _apply(HardswishFn, input, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    return SoftplusFn.apply(input, float(beta), float(threshold))


def mish(input, inplace=False):
    return _apply(MishFn, input, inplace)


def prelu(input, weight):
    return PReLUFn.apply(input, weight)


def _softmax_common(input, dim, dtype, log_output, name):
    if dim is None:
        raise ValueError(f"{name}: dim must be given explicitly (e.g. dim=1); cylayers does not "
                         "guess the dimension")
    if dtype is not None:
        input = input.type(dtype)
    return SoftmaxFn.apply(input, dim, log_output)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is not None and dtype is None:  # the usual call, one frame shorter
        return SoftmaxFn.apply(input, dim, False)
    return _softmax_common(input, dim, dtype, False, "softmax")


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_common(input, dim, dtype, True, "log_softmax")


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.type(dtype)
    return _softmax_common(-input, dim, None, False, "softmin")


# ---------------------------------------------------------------- composed from tensor ops
# Rarer activations, written with differentiable tensor ops (their gradients follow), in
# PyTorch's formulas.
def softsign(input):
    return input / (input.abs() + 1)


def logsigmoid(input):
    return -softplus(-input)


def tanhshrink(input):
    return input - input.tanh()


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return input.where(input.abs() > lambd, input * 0) - \
        (input > lambd).type(input.dtype) * lambd + (input < -lambd).type(input.dtype) * lambd


def hardshrink(input, lambd=0.5):
    return input.where((input > lambd) | (input < -lambd), input * 0)


def threshold(input, threshold, value, inplace=False):
    out = input.where(input > threshold, input * 0 + value)
    return input.copy_(out) if inplace else out


def glu(input, dim=-1):
    if input.shape[dim] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size "
                           f"{input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


# in-place spellings PyTorch's functional namespace has
def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, inplace=True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) per element in training
    (from the default generator) and is their mean in evaluation."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    slopes = input.detach().new_empty(tuple(input.shape)).uniform_(lower, upper)
    out = input.where(input >= 0, input * slopes)
    return input.copy_(out) if inplace else out


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + Gumbel noise) / tau); hard=True returns one-hot samples whose
    gradient is the soft sample's (straight-through)."""
    uniform = logits.detach().new_empty(tuple(logits.shape)).uniform_(0.0, 1.0)
    gumbels = -(-(uniform.clamp_min(eps)).log()).clamp_min(eps).log()
    soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot = soft.detach() * 0
    one_hot = one_hot.scatter(dim, index, 1.0)
    return one_hot - soft.detach() + soft
