"""Tensor's elementwise math: the unary functions (exp, log, sin...), binary math (atan2, fmod,
remainder, lerp...), clamping and the activations that run on the Cython kernels."""
from cylayers import _dtype
from cylayers._ops import activation, arith, pointwise
from cylayers._tensor_arithmetic import _other, tensor_operand
from cylayers._tensor_base import unwrap


def _as_float(tensor):
    """Integer and bool tensors in the default float dtype, as PyTorch's sigmoid and tanh take
    them (the kernels take float32 and float64)."""
    if tensor._array.dtype.kind in "biu":
        return tensor.to(_dtype.get_default_dtype())
    return tensor


class MathMethods:
    __slots__ = ()

    # ------------------------------------------------------------ unary functions
    def exp(self):
        return pointwise.Unary.apply(self, "exp")

    def exp_(self):
        return pointwise.Unary.apply_inplace(self, "exp")

    def log(self):
        return pointwise.Unary.apply(self, "log")

    def log_(self):
        return pointwise.Unary.apply_inplace(self, "log")

    def sqrt(self):
        return pointwise.Unary.apply(self, "sqrt")

    def sqrt_(self):
        return pointwise.Unary.apply_inplace(self, "sqrt")

    def abs(self):
        return pointwise.Unary.apply(self, "abs")

    def abs_(self):
        return pointwise.Unary.apply_inplace(self, "abs")

    def sin(self):
        return pointwise.Unary.apply(self, "sin")

    def sin_(self):
        return pointwise.Unary.apply_inplace(self, "sin")

    def cos(self):
        return pointwise.Unary.apply(self, "cos")

    def cos_(self):
        return pointwise.Unary.apply_inplace(self, "cos")

    def tan(self):
        return pointwise.Unary.apply(self, "tan")

    def tan_(self):
        return pointwise.Unary.apply_inplace(self, "tan")

    def asin(self):
        return pointwise.Unary.apply(self, "asin")

    def asin_(self):
        return pointwise.Unary.apply_inplace(self, "asin")

    def acos(self):
        return pointwise.Unary.apply(self, "acos")

    def acos_(self):
        return pointwise.Unary.apply_inplace(self, "acos")

    def atan(self):
        return pointwise.Unary.apply(self, "atan")

    def atan_(self):
        return pointwise.Unary.apply_inplace(self, "atan")

    def sinh(self):
        return pointwise.Unary.apply(self, "sinh")

    def sinh_(self):
        return pointwise.Unary.apply_inplace(self, "sinh")

    def cosh(self):
        return pointwise.Unary.apply(self, "cosh")

    def cosh_(self):
        return pointwise.Unary.apply_inplace(self, "cosh")

    def asinh(self):
        return pointwise.Unary.apply(self, "asinh")

    def asinh_(self):
        return pointwise.Unary.apply_inplace(self, "asinh")

    def acosh(self):
        return pointwise.Unary.apply(self, "acosh")

    def acosh_(self):
        return pointwise.Unary.apply_inplace(self, "acosh")

    def atanh(self):
        return pointwise.Unary.apply(self, "atanh")

    def atanh_(self):
        return pointwise.Unary.apply_inplace(self, "atanh")

    def exp2(self):
        return pointwise.Unary.apply(self, "exp2")

    def exp2_(self):
        return pointwise.Unary.apply_inplace(self, "exp2")

    def expm1(self):
        return pointwise.Unary.apply(self, "expm1")

    def expm1_(self):
        return pointwise.Unary.apply_inplace(self, "expm1")

    def log2(self):
        return pointwise.Unary.apply(self, "log2")

    def log2_(self):
        return pointwise.Unary.apply_inplace(self, "log2")

    def log10(self):
        return pointwise.Unary.apply(self, "log10")

    def log10_(self):
        return pointwise.Unary.apply_inplace(self, "log10")

    def log1p(self):
        return pointwise.Unary.apply(self, "log1p")

    def log1p_(self):
        return pointwise.Unary.apply_inplace(self, "log1p")

    def rsqrt(self):
        return pointwise.Unary.apply(self, "rsqrt")

    def rsqrt_(self):
        return pointwise.Unary.apply_inplace(self, "rsqrt")

    def reciprocal(self):
        return pointwise.Unary.apply(self, "reciprocal")

    def reciprocal_(self):
        return pointwise.Unary.apply_inplace(self, "reciprocal")

    def square(self):
        return pointwise.Unary.apply(self, "square")

    def square_(self):
        return pointwise.Unary.apply_inplace(self, "square")

    def erf(self):
        return pointwise.Unary.apply(self, "erf")

    def erf_(self):
        return pointwise.Unary.apply_inplace(self, "erf")

    def frac(self):
        return pointwise.Unary.apply(self, "frac")

    def frac_(self):
        return pointwise.Unary.apply_inplace(self, "frac")

    def floor(self):
        return pointwise.Unary.apply(self, "floor")

    def floor_(self):
        return pointwise.Unary.apply_inplace(self, "floor")

    def ceil(self):
        return pointwise.Unary.apply(self, "ceil")

    def ceil_(self):
        return pointwise.Unary.apply_inplace(self, "ceil")

    def trunc(self):
        return pointwise.Unary.apply(self, "trunc")

    def trunc_(self):
        return pointwise.Unary.apply_inplace(self, "trunc")

    def sign(self):
        return pointwise.Unary.apply(self, "sign")

    def sign_(self):
        return pointwise.Unary.apply_inplace(self, "sign")

    arcsin, arcsin_ = asin, asin_
    arccos, arccos_ = acos, acos_
    arctan, arctan_ = atan, atan_
    arcsinh, arcsinh_ = asinh, asinh_
    arccosh, arccosh_ = acosh, acosh_
    arctanh, arctanh_ = atanh, atanh_
    absolute, absolute_ = abs, abs_
    fix, fix_ = trunc, trunc_
    __abs__ = abs

    def round(self, decimals=0):
        if decimals == 0:
            return pointwise.Unary.apply(self, "round")
        scale = 10.0 ** decimals  # PyTorch's definition: round(x * 10^d) / 10^d
        return pointwise.Unary.apply(self * scale, "round") / scale

    def round_(self, decimals=0):
        if decimals == 0:
            return pointwise.Unary.apply_inplace(self, "round")
        return self.copy_(self.round(decimals))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return pointwise.NanToNum.apply(self, nan, posinf, neginf)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return pointwise.NanToNum.apply_inplace(self, nan, posinf, neginf)

    # ------------------------------------------------------------ binary math
    @tensor_operand("atan2")
    def atan2(self, other):
        return pointwise.Atan2.apply(self, _other(other))

    @tensor_operand("atan2_")
    def atan2_(self, other):
        return pointwise.Atan2.apply_inplace(self, _other(other))

    arctan2, arctan2_ = atan2, atan2_

    def fmod(self, other):
        return pointwise.Fmod.apply(self, _other(other))

    def fmod_(self, other):
        return pointwise.Fmod.apply_inplace(self, _other(other))

    def remainder(self, other):
        return pointwise.Remainder.apply(self, _other(other))

    def remainder_(self, other):
        return pointwise.Remainder.apply_inplace(self, _other(other))

    __mod__ = remainder

    def __rmod__(self, other):
        return pointwise.Remainder.apply(_other(other), self)

    def copysign(self, other):
        return pointwise.Copysign.apply(self, _other(other))

    def copysign_(self, other):
        return pointwise.Copysign.apply_inplace(self, _other(other))

    @tensor_operand("logaddexp")
    def logaddexp(self, other):
        return pointwise.LogAddExp.apply(self, _other(other))

    def xlogy(self, other):
        return pointwise.XLogY.apply(self, _other(other))

    def lerp(self, end, weight):
        return pointwise.Lerp.apply(self, _other(end), _other(weight))

    def lerp_(self, end, weight):
        return pointwise.Lerp.apply_inplace(self, _other(end), _other(weight))

    # ------------------------------------------------------------ clamping
    def clamp(self, min=None, max=None):
        return arith.Clamp.apply(self, unwrap(min), unwrap(max))

    clip = clamp

    def clamp_min(self, min):
        return self.clamp(min, None)

    def clamp_max(self, max):
        return self.clamp(None, max)

    def clamp_(self, min=None, max=None):
        return arith.Clamp.apply_inplace(self, min, max)

    # ------------------------------------------------------------ activations (kernels)
    def relu(self):
        if self._array.dtype.kind in "iu":  # integer tensors keep their dtype (PyTorch)
            return self.clamp(min=0)
        return activation.ReLUFn.apply(self)

    def relu_(self):
        if self._array.dtype.kind in "iu":
            return self.clamp_(min=0)
        return activation.ReLUFn.apply_inplace(self)

    def sigmoid(self):
        return activation.SigmoidFn.apply(_as_float(self))

    def sigmoid_(self):
        return activation.SigmoidFn.apply_inplace(self)

    def tanh(self):
        return activation.TanhFn.apply(_as_float(self))

    def tanh_(self):
        return activation.TanhFn.apply_inplace(self)

    def prelu(self, weight):
        return activation.PReLUFn.apply(self, weight)

    def softmax(self, dim, dtype=None):
        return activation.SoftmaxFn.apply(self if dtype is None else self.type(dtype), dim,
                                          False)

    def log_softmax(self, dim, dtype=None):
        return activation.SoftmaxFn.apply(self if dtype is None else self.type(dtype), dim,
                                          True)

    def hardshrink(self, lambd=0.5):
        return self.where((self > lambd) | (self < -lambd), self * 0)
