"""cylayers.Tensor: TensorBase (storage, views, grad state) with its methods, one mixin per
area; each mixin's module holds the methods that call the ops of that area."""
from cylayers._composite import CompositeMethods
from cylayers._random_ops import RandomMethods
from cylayers._tensor_arithmetic import ArithmeticMethods
from cylayers._tensor_autograd import AutogradMethods
from cylayers._tensor_base import (  # noqa: F401  (re-exported: the package imports them here)
    DerivedInt, Size, TensorBase, TracedInt, _index_arg, _norm_dim, _shape_arg, _traced_sizes,
    parse_to_args, register_tensor_class, trace_state, unwrap, writing)
from cylayers._tensor_conversions import ConversionMethods
from cylayers._tensor_inplace import InPlaceMethods
from cylayers._tensor_math import MathMethods
from cylayers._tensor_reductions import ReductionMethods
from cylayers._tensor_shape import ShapeMethods


class Tensor(ArithmeticMethods, MathMethods, ReductionMethods, ShapeMethods, InPlaceMethods,
             ConversionMethods, AutogradMethods, RandomMethods, CompositeMethods, TensorBase):
    """A numpy array with PyTorch's Tensor API and a place on the autograd tape."""
    __slots__ = ()


register_tensor_class(Tensor)
