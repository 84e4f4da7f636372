"""PyTorch's everyday functions that are compositions of differentiable ops: fused
multiply-adds (addmm, addcmul...), elementwise math (hypot, logit, sinc, fmax...), reshaping
helpers (movedim, tile, rot90, tensor_split, *stack...), NaN-ignoring reductions, quantiles,
and small constructions (kron, block_diag, cartesian_prod, tril_indices...). Each is written
with Tensor ops, so its gradient is theirs; each is also a Tensor method where PyTorch has one.
"""
import builtins
import collections
import itertools
import math

import numpy as np

from cylayers import _dtype, linalg
from cylayers._creation import linspace
from cylayers._functions import cat, histc, meshgrid, outer, searchsorted, stack
from cylayers._tensor_base import Size, TensorBase, _norm_dim, unwrap
from cylayers._ops import promotion
from cylayers._ops.arith import unbroadcast
from cylayers._tensor_arithmetic import _tensor_only, _where, tensor_operand
from cylayers._tensor_reductions import _pick, unique_result, values_indices
from cylayers._tensor_types import scalar_type_name
from cylayers.autograd.function import Function

_LN2 = math.log(2.0)
_aminmax_result = collections.namedtuple("aminmax", ["min", "max"])


def _t(x):
    return x if isinstance(x, TensorBase) else TensorBase._make(np.asarray(x))


def _float(x):
    """x in the default float dtype when it is an integer or bool tensor (PyTorch's rule for
    ops with a floating result)."""
    return x if x.is_floating_point() else x.to(_dtype.get_default_dtype())


def _same_dtype(name, a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(f"{name}: expected both vectors to have same dtype, but found "
                           f"{scalar_type_name(a._array.dtype)} and "
                           f"{scalar_type_name(b._array.dtype)}")


# ------------------------------------------------------------------ multiply-adds
def _integral_scales(tensors, *scales):
    """PyTorch truncates beta, alpha and value to integers for integer tensors."""
    if builtins.any(t.is_floating_point() for t in tensors):
        return scales
    return tuple(int(s) for s in scales)


def _scaled_sum(input, product, beta, alpha, operands):
    """beta * input + alpha * product, product made from ``operands``; beta == 0 ignores
    input (NaN included), as PyTorch."""
    beta, alpha = _integral_scales((input, *operands), beta, alpha)
    dt = promotion.result_dtype(input._array, *[t._array for t in operands])
    product = product.to(dt) if product._array.dtype != dt else product  # bmm sums widen
    product = product if alpha == 1 else product * alpha
    if beta == 0:  # the value ignores input; its gradient is zeros (where's unpicked side)
        return _where(TensorBase._make(np.ones((), bool)), product, input)
    return (input if beta == 1 else input * beta) + product


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    if mat1.dim() != 2 or mat2.dim() != 2:
        raise RuntimeError(f"mat1 must be a matrix, got {mat1.dim()}-D tensor" if mat1.dim() != 2
                           else f"mat2 must be a matrix, got {mat2.dim()}-D tensor")
    return _scaled_sum(input, mat1 @ mat2, beta, alpha, (mat1, mat2))


def addmv(input, mat, vec, *, beta=1, alpha=1):
    return _scaled_sum(input, mv(mat, vec), beta, alpha, (mat, vec))


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha, (vec1, vec2))


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(input, batch1.bmm(batch2).sum(0), beta, alpha, (batch1, batch2))


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(input, batch1.bmm(batch2), beta, alpha, (batch1, batch2))


def addcmul(input, tensor1, tensor2, *, value=1):
    (value,) = _integral_scales((input, tensor1, tensor2), value)
    return input + (tensor1 * tensor2 if value == 1 else tensor1 * tensor2 * value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    if not tensor1.is_floating_point() and not tensor2.is_floating_point():
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 and "
                           "tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
                           "for integer inputs and as (input + value * tensor1 / tensor2) for "
                           "float inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    (value,) = _integral_scales((input, tensor1, tensor2), value)
    return input + (tensor1 / tensor2 if value == 1 else tensor1 / tensor2 * value)


def mv(input, vec):
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, "
                           f"{vec.dim()}")
    return input @ vec


def dot(input, tensor):
    if input.dim() != 1 or tensor.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {tensor.dim()}D "
                           f"tensors")
    _same_dtype("dot", input, tensor)
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and "
                           f"src [{tensor.shape[0]}] to have the same number of elements, but "
                           f"got {input.shape[0]} and {tensor.shape[0]} elements respectively")
    return (input * tensor).sum().to(input.dtype)  # sum would widen integers to int64


vdot = dot  # real tensors: no conjugation


def inner(input, other):
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    # a's leading dims, then b's, then the shared last one summed away
    a = input.reshape(*input.shape[:-1], *([1] * (other.dim() - 1)), input.shape[-1])
    product = a * other
    return product.sum(-1).to(product.dtype)


# ------------------------------------------------------------------ elementwise math
@tensor_operand("hypot")
def hypot(input, other):
    return (input * input + other * other).sqrt()


def logaddexp2(input, other):
    return input.mul(_LN2).logaddexp(other * _LN2) / _LN2


def deg2rad(input):
    return _float(input) * (math.pi / 180)


def rad2deg(input):
    return _float(input) * (180 / math.pi)


def sinc(input):
    x = _float(input)
    zero = x == 0
    safe = x.masked_fill(zero, 1.0) * math.pi  # no 0/0 in the branch where() discards
    return (safe.sin() / safe).masked_fill(zero, 1.0)


def logit(input, eps=None):
    return _Logit.apply(_float(input), eps)


def erfc(input):
    return 1 - _float(input).erf()


def erfinv(input):
    """The inverse of erf: Giles' single-precision approximation refined by two Newton steps
    (float64-accurate), with gradient sqrt(pi) / 2 * exp(erfinv(x)^2)."""
    x = _float(input)
    return _ErfInv.apply(x)


def heaviside(input, values):
    if input.dtype != values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different "
                           "dtypes")
    a, v = input._array, values._array
    return TensorBase._make(np.where(a == 0, v, (a > 0)).astype(np.result_type(a, v)))


def _nan_aware_extremum(take_max):
    def fn(input, other):
        other = _t(other)
        better = (input >= other) if take_max else (input <= other)
        # PyTorch's gradient: to input where it wins (or other is NaN), else to other
        return _where(better | other.isnan(), input, other)
    fn.__name__ = "fmax" if take_max else "fmin"
    return fn


fmax = _tensor_only(_nan_aware_extremum(True), "fmax")
fmin = _tensor_only(_nan_aware_extremum(False), "fmin")


def float_power(input, exponent):
    a = input.double() if isinstance(input, TensorBase) else float(input)
    b = exponent.double() if isinstance(exponent, TensorBase) else float(exponent)
    return a ** b if isinstance(a, TensorBase) else _t(np.float64(a)) ** b


def ldexp(input, other):
    if not isinstance(other, TensorBase):
        raise TypeError(f"ldexp(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    return _float(input) * (2.0 ** other)


def frexp(input):
    if not input.is_floating_point():
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    exponent = TensorBase._make(np.frexp(input._array)[1].astype(np.int32))
    # mantissa = input / 2^exponent exactly (a power of two), with that gradient
    mantissa = input / (2.0 ** exponent.to(input.dtype))
    return collections.namedtuple("frexp", ["mantissa", "exponent"])(mantissa, exponent)


def _integer_binary(ufunc, name):
    def fn(input, other):
        a, b = promotion.promote(input._array, unwrap(other))
        for x in (a, b):
            if np.asarray(x).dtype.kind not in "iu":
                raise RuntimeError(f'"{name}_cpu" not implemented for '
                                   f"'{scalar_type_name(np.asarray(x).dtype)}'")
        return TensorBase._make(np.asarray(ufunc(a, b)))
    fn.__name__ = name
    return fn


gcd = _tensor_only(_integer_binary(np.gcd, "gcd"), "gcd")
lcm = _tensor_only(_integer_binary(np.lcm, "lcm"), "lcm")


@tensor_operand("nextafter")
def nextafter(input, other):
    return _NextAfter.apply(input, other)


def signbit(input):
    return TensorBase._make(np.signbit(input._array))


def sgn(input):
    return input.sign()


def positive(input):
    if input.dtype == _dtype.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def clamp_min(input, min):
    return input.clamp(min=min)


def clamp_max(input, max):
    return input.clamp(max=max)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    return TensorBase._make(np.isin(unwrap(elements), unwrap(test_elements), invert=invert))


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous"
                           if input.numel() else
                           "Boolean value of Tensor with no values is ambiguous")
    return bool(input._array.reshape(-1)[0])


def is_complex(input):
    return input._array.dtype.kind == "c"


def typename(obj):
    """The name of obj's type: the legacy tensor type for a tensor (as x.type() gives)."""
    if isinstance(obj, TensorBase):
        return obj.type()
    module = type(obj).__module__
    return type(obj).__qualname__ if module in (None, "builtins") else \
        f"{module}.{type(obj).__qualname__}"


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """A tensor sharing obj's memory when it can (a tensor or an array of the asked dtype and
    copy not True), a new one otherwise; copy=False refuses a copy."""
    np_dtype = None if dtype is None else _dtype.to_numpy_dtype(dtype)
    source = obj._array if isinstance(obj, TensorBase) else obj
    if copy:
        arr = np.array(source, dtype=np_dtype, copy=True)
    else:
        arr = np.asarray(source, dtype=np_dtype)
        if not isinstance(source, (np.ndarray, TensorBase)) and np_dtype is None and \
                arr.dtype == np.float64 and not isinstance(obj, (np.generic,)):
            arr = arr.astype(_dtype.default_float())  # Python floats: the default dtype
        if copy is False and isinstance(source, np.ndarray) and arr is not source and \
                not np.shares_memory(arr, source):
            raise ValueError("can't alias tensor from an array of another dtype without a copy")
    if isinstance(obj, TensorBase) and arr is obj._array and not requires_grad:
        return obj
    out = TensorBase._make(arr)
    return out.requires_grad_(True) if requires_grad else out


# ------------------------------------------------------------------ shapes
def broadcast_shapes(*shapes):
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    try:
        return Size(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape: "
                           f"{shapes}") from None


def broadcast_to(input, size):
    return input.expand(*size)


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(*shape) for t in tensors)


def _atleast(n):
    # the shapes PyTorch gives: a vector is a row (1, N) in 2-D and (1, N, 1) in 3-D
    grow = {1: {0: lambda s: (1,)},
            2: {0: lambda s: (1, 1), 1: lambda s: (1, s[0])},
            3: {0: lambda s: (1, 1, 1), 1: lambda s: (1, s[0], 1), 2: lambda s: (*s, 1)}}[n]

    def fn(*tensors):
        single = len(tensors) == 1
        if single and isinstance(tensors[0], (list, tuple)):
            tensors, single = tuple(tensors[0]), False
        out = tuple(t.reshape(*grow[t.dim()](tuple(t.shape))) if t.dim() < n else t
                    for t in tensors)
        return out[0] if single else out
    fn.__name__ = f"atleast_{n}d"
    return fn


atleast_1d, atleast_2d, atleast_3d = _atleast(1), _atleast(2), _atleast(3)


def movedim(input, source, destination):
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} "
                           f"dims)")
    n = input.dim()
    src = [_norm_dim(d, n) for d in src]
    dst = [_norm_dim(d, n) for d in dst]
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return input.permute(*order) if n else input


moveaxis = movedim


def swapaxes(input, axis0, axis1):
    return input.transpose(axis0, axis1)


swapdims = swapaxes


def ravel(input):
    return input.reshape(-1)


def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input.dim():
        dims = (1,) * (input.dim() - len(dims)) + dims
    return input.repeat(*dims)


def rot90(input, k=1, dims=(0, 1)):
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.dim()}")
    d0, d1 = (_norm_dim(d, input.dim()) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip(d0, d1)
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


def fliplr(input):
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return input.flip(1)


def flipud(input):
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return input.flip(0)


def take(input, index):
    return input.reshape(-1)[_t(index)]


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return input.reshape(-1).gather(0, indices.reshape(-1))
    d = _norm_dim(dim, input.dim())
    shape = list(np.broadcast_shapes(
        tuple(s for i, s in enumerate(input.shape) if i != d),
        tuple(s for i, s in enumerate(indices.shape) if i != d)))
    in_shape, idx_shape = list(shape), list(shape)
    in_shape.insert(d, input.shape[d])
    idx_shape.insert(d, indices.shape[d])
    return input.expand(*in_shape).gather(d, indices.expand(*idx_shape))


def tensor_split(input, indices_or_sections, dim=0):
    d = _norm_dim(dim, input.dim())
    n = input.shape[d]
    if isinstance(indices_or_sections, TensorBase):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        size, extra = divmod(n, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + size + (1 if i < extra else 0))
    else:
        bounds = [0] + [min(max(i if i >= 0 else n + i, 0), n) for i in indices_or_sections] \
            + [n]
    return tuple(input.narrow(d, lo, max(hi - lo, 0)) if hi > lo else input.narrow(d, lo, 0)
                 for lo, hi in zip(bounds[:-1], bounds[1:]))


def _split_along(dim, min_dims, name):
    def fn(input, indices_or_sections):
        if input.dim() < min_dims:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} "
                               f"dimension, but got a tensor with {input.dim()} dimensions!")
        d = 0 if name == "hsplit" and input.dim() == 1 else dim
        if isinstance(indices_or_sections, int) and input.shape[d] % indices_or_sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the "
                               f"size of the dimension {input.shape[d]} is not divisible by "
                               f"the split_size {indices_or_sections}!")
        return tensor_split(input, indices_or_sections, d)
    fn.__name__ = name
    return fn


hsplit = _split_along(1, 1, "hsplit")
vsplit = _split_along(0, 2, "vsplit")
dsplit = _split_along(2, 3, "dsplit")


def _cat(tensors, dim):
    return cat(list(tensors), dim)


def hstack(tensors):
    tensors = atleast_1d(*tensors) if len(tensors) > 1 else (atleast_1d(tensors[0]),)
    return _cat(tensors, 0 if tensors[0].dim() == 1 else 1)


def vstack(tensors):
    tensors = atleast_2d(*tensors) if len(tensors) > 1 else (atleast_2d(tensors[0]),)
    return _cat(tensors, 0)


row_stack = vstack


def dstack(tensors):
    tensors = atleast_3d(*tensors) if len(tensors) > 1 else (atleast_3d(tensors[0]),)
    return _cat(tensors, 2)


def column_stack(tensors):
    cols = [t.reshape(-1, 1) if t.dim() <= 1 else t for t in tensors]
    return _cat(cols, 1)


def concatenate(tensors, dim=0, *, axis=None):
    return _cat(tensors, dim if axis is None else axis)


def select(input, dim, index):
    d = _norm_dim(dim, input.dim())
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return input.narrow(d, index % n, 1).squeeze(d)


def narrow_copy(input, dim, start, length):
    return input.narrow(dim, start, length).clone()


def diagflat(input, offset=0):
    return input.reshape(-1).diag(offset)


def block_diag(*tensors):
    mats = [t.reshape(1, -1) if t.dim() == 1 else t.reshape(1, 1) if t.dim() == 0 else t
            for t in tensors]
    if any(m.dim() != 2 for m in mats):
        raise RuntimeError("torch.block_diag: Input tensors must have 2 or fewer dimensions.")
    dt = promotion.result_dtype(*[np.empty((1,), m._array.dtype) for m in mats]) if mats \
        else np.dtype(_dtype.default_float())
    cols = builtins.sum(m.shape[1] for m in mats)
    rows, before = [], 0
    for m in mats:
        r, c = m.shape
        parts = [TensorBase._make(np.zeros((r, before), dt)), m.to(dt),
                 TensorBase._make(np.zeros((r, cols - before - c), dt))]
        rows.append(_cat(parts, 1))
        before += c
    return _cat(rows, 0) if rows else TensorBase._make(np.zeros((1, 0), dt))


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    n = input.shape[0]
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(pick(range(n), r)), dtype=np.int64).reshape(-1, r)
    if r == 0:
        return input[:0]
    return input[TensorBase._make(idx.reshape(-1))].reshape(-1, r)


def _triangle_indices(upper):
    def fn(row, col, offset=0, *, dtype=None, device=None, layout=None):
        rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
        dt = np.int64 if dtype is None else _dtype.to_numpy_dtype(dtype)
        return TensorBase._make(np.stack([rows, cols]).astype(dt).reshape(2, -1))
    fn.__name__ = "triu_indices" if upper else "tril_indices"
    return fn


tril_indices, triu_indices = _triangle_indices(False), _triangle_indices(True)


def vander(x, N=None, increasing=False):
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    x = x if x.dtype != _dtype.bool_ else x.long()
    x = x if x.is_floating_point() else x.long()
    powers = [x ** p for p in range(n)] if n else []
    if not powers:
        return TensorBase._make(np.zeros((x.shape[0], 0), x._array.dtype))
    out = stack(powers, 1)
    return out if increasing else out.flip(1)


def kron(input, other):
    nd = builtins.max(input.dim(), other.dim())
    a = input.reshape(*([1] * (nd - input.dim())), *input.shape)
    b = other.reshape(*([1] * (nd - other.dim())), *other.shape)
    a_exp = a.reshape(*[s for d in a.shape for s in (d, 1)])
    b_exp = b.reshape(*[s for d in b.shape for s in (1, d)])
    return (a_exp * b_exp).reshape(*[x * y for x, y in zip(a.shape, b.shape)])


def cross(input, other, dim=None):
    if dim is None:  # PyTorch's deprecated default: the first dimension of size 3
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dims = [i for i, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError("no dimension of size 3 in input")
        dim = dims[0]
    return linalg.cross(input, other, dim=dim)


def dist(input, other, p=2):
    return (input - other).norm(p)


def renorm(input, p, dim, maxnorm):
    if input.dim() < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.dim()} "
                           f"dimensions")
    d = _norm_dim(dim, input.dim())
    others = tuple(i for i in range(input.dim()) if i != d)
    norms = input.norm(p, dim=others, keepdim=True) if others else input.abs()
    # PyTorch's factor maxnorm / (norm + 1e-7) where the norm exceeds maxnorm (its gradient
    # goes through the norm too)
    factor = _where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return input * factor


# ------------------------------------------------------------------ reductions
def aminmax(input, *, dim=None, keepdim=False):
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as "
                               "the operation has no identity.")
        lo, hi = input.amin(), input.amax()
        if keepdim:
            lo, hi = lo.reshape([1] * input.dim()), hi.reshape([1] * input.dim())
        return _aminmax_result(lo, hi)
    return _aminmax_result(input.amin(dim, keepdim), input.amax(dim, keepdim))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = input if dtype is None else input.to(dtype)
    if x.is_floating_point():
        x = x.masked_fill(x.isnan(), 0)
    if dim is None and not keepdim:
        return x.sum()
    return x.sum(dim if dim is not None else tuple(range(x.dim())), keepdim=keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    x = input if dtype is None else input.to(dtype)
    if not x.is_floating_point():
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got "
                           f"{scalar_type_name(x._array.dtype)}")
    present = (~x.isnan()).to(x.dtype)
    if dim is None and not keepdim:
        return nansum(x) / present.sum()
    dims = dim if dim is not None else tuple(range(x.dim()))
    return nansum(x, dims, keepdim) / present.sum(dims, keepdim=keepdim)


def nanmedian(input, dim=None, keepdim=False):
    """The lower median of the values that are not NaN (NaN where there are none)."""
    arr = input._array
    if dim is None:
        flat = input.reshape(-1)
        valid = ~np.isnan(flat._array) if arr.dtype.kind == "f" else np.ones(flat.shape, bool)
        if not valid.any():
            return input.reshape(-1)[:0].sum() * np.nan if arr.size else \
                input.median()
        return flat[TensorBase._make(valid)].median()
    d = _norm_dim(dim, arr.ndim)
    if not arr.ndim:
        return values_indices["median"](input.clone(), TensorBase._make(np.zeros((), np.int64)))
    nan = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(arr.shape, bool)
    order = np.argsort(np.where(nan, np.inf, arr), axis=d, kind="stable")
    count = (~nan).sum(axis=d, keepdims=True)
    k = np.maximum(count - 1, 0) // 2
    idx = np.take_along_axis(order, k, axis=d)
    return _pick(input, idx, d, keepdim, values_indices["median"])


def _quantile(ignore_nan):
    def fn(input, q, dim=None, keepdim=False, *, interpolation="linear"):
        if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
            raise RuntimeError(f"quantile() interpolation must be one of linear, lower, "
                               f"higher, midpoint or nearest. Got {interpolation}")
        if not input.is_floating_point():
            raise RuntimeError("quantile() input tensor must be either float or double dtype")
        scalar_q = not isinstance(q, TensorBase)
        qs = np.atleast_1d(np.asarray(unwrap(q), dtype=np.float64))
        if qs.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if ((qs < 0) | (qs > 1)).any():
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
        x = input.reshape(-1) if dim is None else input
        d = 0 if dim is None else _norm_dim(dim, input.dim())
        if x.dim() == 0:
            x, d = x.reshape(1), 0
        arr = x._array
        nan = np.isnan(arr)
        order = np.argsort(np.where(nan, np.inf, arr), axis=d, kind="stable")
        sorted_x = x.gather(d, TensorBase._make(order))
        n_valid = (~nan).sum(axis=d, keepdims=True) if ignore_nan else \
            np.full(np.take(arr, [0], axis=d).shape, arr.shape[d])
        has_nan = nan.any(axis=d, keepdims=True)
        outs = []
        for qv in qs:
            rank = qv * np.maximum(n_valid - 1, 0)
            lo = np.floor(rank).astype(np.int64)
            hi = np.ceil(rank).astype(np.int64)
            if interpolation == "lower":
                hi = lo
            elif interpolation == "higher":
                lo = hi
            elif interpolation == "nearest":
                lo = hi = np.round(rank).astype(np.int64)  # half to even, as PyTorch
            lo_v = sorted_x.gather(d, TensorBase._make(lo))
            hi_v = sorted_x.gather(d, TensorBase._make(hi))
            if interpolation == "midpoint":
                w = np.where(hi > lo, 0.5, 0.0)
            else:
                w = rank - lo if interpolation == "linear" else np.zeros(rank.shape)
            val = lo_v + (hi_v - lo_v) * TensorBase._make(w.astype(arr.dtype))
            bad = (n_valid == 0) if ignore_nan else has_nan
            val = val.masked_fill(TensorBase._make(np.broadcast_to(bad, val.shape).copy()),
                                  float("nan"))
            if not keepdim or input.dim() == 0:
                val = val.squeeze(d)
                if keepdim:
                    val = val.reshape(())
            elif dim is None:
                val = val.reshape([1] * input.dim())
            outs.append(val)
        return outs[0] if scalar_q else stack(outs, 0)
    fn.__name__ = "nanquantile" if ignore_nan else "quantile"
    return fn


quantile, nanquantile = _quantile(False), _quantile(True)


def cov(input, *, correction=1, fweights=None, aweights=None):
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.dim()} dimensions")
    x = _float(input.reshape(1, -1) if input.dim() < 2 else input)
    n = x.shape[1]
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        mean = x.mean(1, keepdim=True)
        total = n
        norm = total - correction
        centered = x - mean
        c = centered @ centered.t() / norm
    else:
        total = w.sum()
        mean = (x * w).sum(1, keepdim=True) / total
        if correction == 0:
            norm = total
        elif aweights is None:
            norm = total - correction
        else:
            norm = total - correction * (w * aweights.to(x.dtype)).sum() / total
        centered = x - mean
        c = (centered * w) @ centered.t() / norm
    return c.squeeze() if input.dim() < 2 or x.shape[0] == 1 else c


def corrcoef(input):
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = c.diagonal().sqrt()
    return (c / d.unsqueeze(1) / d.unsqueeze(0)).clamp(-1, 1)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    arr = input._array
    edges = unwrap(bins) if isinstance(bins, TensorBase) else bins
    hist, edges = np.histogram(arr, bins=edges, range=range,
                               weights=None if weight is None else unwrap(weight),
                               density=density)
    return collections.namedtuple("histogram", ["hist", "bin_edges"])(
        TensorBase._make(hist.astype(arr.dtype)), TensorBase._make(edges.astype(arr.dtype)))


def trapezoid(y, x=None, *, dx=None, dim=-1):
    d = _norm_dim(dim, y.dim())
    n = y.shape[d]
    if n == 0:
        return y.sum(d)
    left, right = y.narrow(d, 0, n - 1), y.narrow(d, 1, n - 1)
    if x is None:
        return (left + right).sum(d) * ((1.0 if dx is None else dx) / 2)
    spacing = x.diff(dim=-1 if x.dim() == 1 else d)
    if x.dim() == 1:
        spacing = spacing.reshape(*[-1 if i == d else 1 for i in range(y.dim())])
    return ((left + right) * spacing).sum(d) / 2


trapz = trapezoid


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    d = _norm_dim(dim, y.dim())
    n = y.shape[d]
    left, right = y.narrow(d, 0, max(n - 1, 0)), y.narrow(d, min(1, n), max(n - 1, 0))
    if x is None:
        return ((left + right) * ((1.0 if dx is None else dx) / 2)).cumsum(d)
    spacing = x.diff(dim=-1 if x.dim() == 1 else d)
    if x.dim() == 1:
        spacing = spacing.reshape(*[-1 if i == d else 1 for i in range(y.dim())])
    return ((left + right) * spacing / 2).cumsum(d)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    exps = linspace(start, end, steps, dtype=_dtype.float64)
    out = TensorBase._make(np.power(float(base), exps._array))
    dt = _dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.default_float()
    out = TensorBase._make(out._array.astype(dt) if np.dtype(dt).kind == "f" else
                       np.trunc(out._array).astype(dt))
    return out.requires_grad_(requires_grad) if requires_grad else out


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    arr = input._array
    if dim is None:
        flat = arr.reshape(-1)
        change = np.ones(flat.shape, bool)
        change[1:] = flat[1:] != flat[:-1]
        values = flat[change]
        group = np.cumsum(change) - 1
        inverse = group.reshape(arr.shape)
    else:
        d = _norm_dim(dim, arr.ndim)
        moved = np.moveaxis(arr, d, 0).reshape(arr.shape[d], -1) if arr.shape[d] else \
            np.zeros((0, 1), arr.dtype)
        change = np.ones(arr.shape[d], bool)
        change[1:] = (moved[1:] != moved[:-1]).any(axis=1)
        values = np.compress(change, arr, axis=d)
        inverse = np.cumsum(change) - 1
    counts = np.diff(np.append(np.flatnonzero(change), change.size))
    return unique_result(values, inverse, counts, return_inverse, return_counts)


def unravel_index(indices, shape):
    idx = np.asarray(unwrap(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got "
                        f"{scalar_type_name(idx.dtype)}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    total = int(np.prod(shape))
    if ((idx < -total) | (idx >= total)).any():
        raise RuntimeError("index out of bounds")
    return tuple(TensorBase._make(c.astype(np.int64)) for c in np.unravel_index(idx % max(total, 1),
                                                                            shape))


# ------------------------------------------------------------------ scatter-style copies
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    out = input.clone()
    view = movedim(out, (dim1, dim2), (-2, -1))  # a view: writes land in out
    rows, cols = view.shape[-2], view.shape[-1]
    n = builtins.max(builtins.min(rows - builtins.max(-offset, 0),
                                  cols - builtins.max(offset, 0)), 0)
    r = TensorBase._make(np.arange(n) + builtins.max(-offset, 0))
    c = TensorBase._make(np.arange(n) + builtins.max(offset, 0))
    view[..., r, c] = src.to(out.dtype)
    return out


def select_scatter(input, src, dim, index):
    out = input.clone()
    select(out, dim, index).copy_(src)
    return out


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    out = input.clone()
    d = _norm_dim(dim, input.dim())
    where = [slice(None)] * input.dim()
    where[d] = slice(start, end, step)
    out[tuple(where)] = src
    return out


def index_put(input, indices, values, accumulate=False):
    return input.clone().index_put_(indices, values, accumulate)


def _index_put_(self, indices, values, accumulate=False):
    indices = tuple(indices)
    if not accumulate:
        self[indices] = values
        return self
    # accumulate: repeated positions add up (a plain setitem would keep only one)
    flat_index = np.ravel_multi_index(
        np.broadcast_arrays(*[np.asarray(unwrap(i)) % s for i, s in zip(indices, self.shape)]),
        tuple(self.shape[:len(indices)]))
    rest = tuple(self.shape[len(indices):])
    flat = self.reshape(-1, *rest) if rest else self.reshape(-1)
    vals = _t(values).to(self.dtype).expand(*flat_index.shape, *rest).reshape(-1, *rest)
    updated = flat.index_add(0, TensorBase._make(flat_index.reshape(-1)), vals)
    return self.copy_(updated.reshape(*self.shape))


def _erfinv_array(x):
    """erfinv in float64: Giles' approximation, then Newton steps on erf(y) = x."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - x) * (1.0 + x))
    small = w < 5.0
    ws = w - 2.5
    p_small = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        p_small = c + p_small * ws
    wl = np.sqrt(np.where(small, 5.0, w)) - 3.0
    p_large = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        p_large = c + p_large * wl
    y = np.where(small, p_small, p_large) * x
    erf = np.vectorize(math.erf, otypes=[np.float64])
    for _ in range(2):
        with np.errstate(all="ignore"):
            err = erf(y) - x
            y = y - err / (2.0 / math.sqrt(math.pi) * np.exp(-y * y))
    y = np.where(x == 1, np.inf, np.where(x == -1, -np.inf, y))
    return np.where((x > 1) | (x < -1) | np.isnan(x), np.nan, y)


class _NextAfter(Function):
    """The next float after a toward b; PyTorch's gradient passes to a unchanged (zero where
    a equals b) and is zero to b."""

    @staticmethod
    def forward(ctx, a, b):
        a, b = promotion.promote(a, b)
        ctx.shapes, ctx.equal = (np.shape(a), np.shape(b)), a == b
        return np.asarray(np.nextafter(a, b))

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(np.where(ctx.equal, 0, g), sa), np.zeros(sb, g.dtype)


class _Logit(Function):
    """log(x / (1 - x)), x first clamped to [eps, 1 - eps]; PyTorch's gradient is NaN outside
    [0, 1] without eps and 0 outside [eps, 1 - eps] with it."""

    @staticmethod
    def forward(ctx, x, eps):
        ctx.x, ctx.eps = x, eps
        z = x if eps is None else np.clip(x, eps, 1 - eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(z / (1 - z)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, eps = ctx.x, ctx.eps
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = g / (x * (1 - x))
            outside = (x < 0) | (x > 1) if eps is None else (x < eps) | (x > 1 - eps)
            fill = np.nan if eps is None else 0.0
            return np.where(outside, fill, slope).astype(g.dtype, copy=False), None


class _ErfInv(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.y = _erfinv_array(x).astype(x.dtype)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        with np.errstate(over="ignore"):
            return (g * (math.sqrt(math.pi) / 2) * np.exp(ctx.y * ctx.y)).astype(g.dtype)


# ------------------------------------------------------------------ torch.* linear algebra
_svd_result = collections.namedtuple("svd", ["U", "S", "V"])
_triangular_solve_result = collections.namedtuple("triangular_solve",
                                                  ["solution", "cloned_coefficient"])


def det(input):
    return linalg.det(input)


def logdet(input):
    """log(det): NaN for a negative determinant, -inf for zero, as PyTorch."""
    sign, logabs = linalg.slogdet(input)
    # NaN, with a zero gradient, where the determinant is negative
    return _where(TensorBase._make(sign._array < 0), float("nan"), logabs)


def slogdet(input):
    return linalg.slogdet(input)


def inverse(input):
    return linalg.inv(input)


def cholesky(input, upper=False):
    return linalg.cholesky(input, upper=upper)


def pinverse(input, rcond=1e-15):
    return linalg.pinv(input, rtol=rcond)


def svd(input, some=True, compute_uv=True):
    """torch.svd's spelling: V (not Vh), the reduced factors unless some=False."""
    u, s, vh = linalg.svd(input, full_matrices=not some)
    if not compute_uv:
        return _svd_result(u.detach() * 0, s, vh.detach().transpose(-2, -1) * 0)
    return _svd_result(u, s, vh.transpose(-2, -1))


def qr(input, some=True):
    return linalg.qr(input, "reduced" if some else "complete")


def matrix_power(input, n):
    return linalg.matrix_power(input, n)


def matrix_exp(input):
    return linalg.matrix_exp(input)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    a = A.transpose(-2, -1) if transpose else A
    x = linalg.solve_triangular(a, b, upper=upper != transpose, unitriangular=unitriangular)
    return _triangular_solve_result(x, A.clone())


def cholesky_solve(B, L, upper=False):
    """X with A X = B for A = L L^T (or U^T U)."""
    if B.dim() < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.dim()} dimensions "
                           f"instead")
    lower = L.transpose(-2, -1) if upper else L
    y = linalg.solve_triangular(lower, B, upper=False)
    return linalg.solve_triangular(lower.transpose(-2, -1), y, upper=True)


def cholesky_inverse(L, upper=False):
    n = L.shape[-1]
    eye = TensorBase._make(np.broadcast_to(np.eye(n, dtype=L._array.dtype), L.shape).copy())
    return cholesky_solve(eye, L, upper)


# ------------------------------------------------------------------ Tensor methods
def _store(self, result):
    """Write an op's result into self as PyTorch's in-place ops do (check_in_place_cast)."""
    promotion.check_in_place_cast(result._array.dtype, self._array.dtype)
    return self.copy_(result)


def _sum_to_size(self, size):
    size = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else tuple(size)
    try:
        if np.broadcast_shapes(size, tuple(self.shape)) != tuple(self.shape):
            raise ValueError
    except ValueError:
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size "
                           f"{{{list(self.shape)}}}.") from None
    lead = self.dim() - len(size)
    out = self.sum(tuple(range(lead))) if lead > 0 else self
    dims = tuple(i for i, s in enumerate(size) if s == 1 and out.shape[i] != 1)
    return out.sum(dims, keepdim=True) if dims else out


__all__ = ["addmm", "addmv", "addr", "addbmm", "baddbmm", "addcmul", "addcdiv", "mv", "dot",
           "vdot", "inner", "hypot", "logaddexp2", "deg2rad", "rad2deg", "sinc", "logit",
           "erfc", "erfinv", "heaviside", "fmax", "fmin", "float_power", "ldexp", "frexp",
           "gcd", "lcm", "nextafter", "signbit", "sgn", "positive", "clamp_min", "clamp_max",
           "isin", "is_nonzero", "is_complex", "typename", "asarray", "broadcast_shapes",
           "broadcast_to",
           "broadcast_tensors", "atleast_1d", "atleast_2d", "atleast_3d", "movedim",
           "moveaxis", "swapaxes", "swapdims", "ravel", "tile", "rot90", "fliplr", "flipud",
           "take", "take_along_dim", "tensor_split", "hsplit", "vsplit", "dsplit", "hstack",
           "vstack", "row_stack", "dstack", "column_stack", "concatenate", "select",
           "narrow_copy", "diagflat", "block_diag", "cartesian_prod", "combinations",
           "tril_indices", "triu_indices", "vander", "kron", "cross", "dist", "renorm",
           "aminmax", "nansum", "nanmean", "nanmedian", "quantile", "nanquantile", "cov",
           "corrcoef", "bucketize", "histogram", "trapezoid", "trapz", "cumulative_trapezoid",
           "logspace", "unique_consecutive", "unravel_index", "diagonal_scatter",
           "select_scatter", "slice_scatter", "index_put", "multiply", "subtract", "det",
           "logdet", "slogdet", "inverse", "cholesky", "pinverse", "svd", "qr",
           "matrix_power", "matrix_exp", "triangular_solve", "cholesky_solve",
           "cholesky_inverse"]


def multiply(input, other):
    return input * other


def subtract(input, other, *, alpha=1):
    return input.sub(other, alpha=alpha)


class CompositeMethods:
    """Tensor methods that are the functions above with the tensor first
    (``x.addmm(m1, m2)`` is ``addmm(x, m1, m2)``), their in-place forms, and the in-place forms
    of comparisons and other ops that write their result back into the tensor."""
    __slots__ = ()

    addmm = addmm
    histc = histc
    addmv = addmv
    addr = addr
    addbmm = addbmm
    baddbmm = baddbmm
    addcmul = addcmul
    addcdiv = addcdiv
    mv = mv
    dot = dot
    vdot = vdot
    inner = inner
    outer = outer
    ger = outer
    hypot = hypot
    logaddexp2 = logaddexp2
    deg2rad = deg2rad
    rad2deg = rad2deg
    sinc = sinc
    logit = logit
    erfc = erfc
    erfinv = erfinv
    heaviside = heaviside
    fmax = fmax
    fmin = fmin
    float_power = float_power
    ldexp = ldexp
    frexp = frexp
    gcd = gcd
    lcm = lcm
    nextafter = nextafter
    signbit = signbit
    sgn = sgn
    positive = positive
    isin = isin
    is_nonzero = is_nonzero
    is_complex = is_complex
    broadcast_to = broadcast_to
    movedim = movedim
    moveaxis = moveaxis
    swapaxes = swapaxes
    swapdims = swapdims
    ravel = ravel
    tile = tile
    rot90 = rot90
    fliplr = fliplr
    flipud = flipud
    take = take
    take_along_dim = take_along_dim
    tensor_split = tensor_split
    hsplit = hsplit
    vsplit = vsplit
    dsplit = dsplit
    select = select
    narrow_copy = narrow_copy
    diagflat = diagflat
    kron = kron
    cross = cross
    dist = dist
    renorm = renorm
    aminmax = aminmax
    nansum = nansum
    nanmean = nanmean
    nanmedian = nanmedian
    quantile = quantile
    nanquantile = nanquantile
    cov = cov
    corrcoef = corrcoef
    histogram = histogram
    unique_consecutive = unique_consecutive
    diagonal_scatter = diagonal_scatter
    select_scatter = select_scatter
    slice_scatter = slice_scatter
    index_put = index_put
    index_put_ = _index_put_

    def multiply(self, other):
        return self * other

    det = det
    logdet = logdet
    slogdet = slogdet
    inverse = inverse
    cholesky = cholesky
    pinverse = pinverse
    svd = svd
    qr = qr
    matrix_power = matrix_power
    matrix_exp = matrix_exp
    triangular_solve = triangular_solve
    cholesky_solve = cholesky_solve
    cholesky_inverse = cholesky_inverse

    def subtract(self, other, alpha=1):
        return self.sub(other, alpha=alpha)

    # ------------------------------------------------------------ results written back in place
    def addmm_(self, *args, **kwargs):
        return _store(self, self.addmm(*args, **kwargs))

    def addmv_(self, *args, **kwargs):
        return _store(self, self.addmv(*args, **kwargs))

    def addr_(self, *args, **kwargs):
        return _store(self, self.addr(*args, **kwargs))

    def addbmm_(self, *args, **kwargs):
        return _store(self, self.addbmm(*args, **kwargs))

    def baddbmm_(self, *args, **kwargs):
        return _store(self, self.baddbmm(*args, **kwargs))

    def addcmul_(self, *args, **kwargs):
        return _store(self, self.addcmul(*args, **kwargs))

    def addcdiv_(self, *args, **kwargs):
        return _store(self, self.addcdiv(*args, **kwargs))

    def hypot_(self, *args, **kwargs):
        return _store(self, self.hypot(*args, **kwargs))

    def deg2rad_(self, *args, **kwargs):
        return _store(self, self.deg2rad(*args, **kwargs))

    def rad2deg_(self, *args, **kwargs):
        return _store(self, self.rad2deg(*args, **kwargs))

    def sinc_(self, *args, **kwargs):
        return _store(self, self.sinc(*args, **kwargs))

    def logit_(self, *args, **kwargs):
        return _store(self, self.logit(*args, **kwargs))

    def erfc_(self, *args, **kwargs):
        return _store(self, self.erfc(*args, **kwargs))

    def erfinv_(self, *args, **kwargs):
        return _store(self, self.erfinv(*args, **kwargs))

    def heaviside_(self, *args, **kwargs):
        return _store(self, self.heaviside(*args, **kwargs))

    def ldexp_(self, *args, **kwargs):
        return _store(self, self.ldexp(*args, **kwargs))

    def gcd_(self, *args, **kwargs):
        return _store(self, self.gcd(*args, **kwargs))

    def lcm_(self, *args, **kwargs):
        return _store(self, self.lcm(*args, **kwargs))

    def nextafter_(self, *args, **kwargs):
        return _store(self, self.nextafter(*args, **kwargs))

    def sgn_(self, *args, **kwargs):
        return _store(self, self.sgn(*args, **kwargs))

    def renorm_(self, *args, **kwargs):
        return _store(self, self.renorm(*args, **kwargs))

    def multiply_(self, *args, **kwargs):
        return _store(self, self.multiply(*args, **kwargs))

    def subtract_(self, *args, **kwargs):
        return _store(self, self.subtract(*args, **kwargs))

    def eq_(self, *args, **kwargs):
        return _store(self, self.eq(*args, **kwargs))

    def ne_(self, *args, **kwargs):
        return _store(self, self.ne(*args, **kwargs))

    def lt_(self, *args, **kwargs):
        return _store(self, self.lt(*args, **kwargs))

    def le_(self, *args, **kwargs):
        return _store(self, self.le(*args, **kwargs))

    def gt_(self, *args, **kwargs):
        return _store(self, self.gt(*args, **kwargs))

    def ge_(self, *args, **kwargs):
        return _store(self, self.ge(*args, **kwargs))

    def greater_(self, *args, **kwargs):
        return _store(self, self.greater(*args, **kwargs))

    def greater_equal_(self, *args, **kwargs):
        return _store(self, self.greater_equal(*args, **kwargs))

    def less_(self, *args, **kwargs):
        return _store(self, self.less(*args, **kwargs))

    def less_equal_(self, *args, **kwargs):
        return _store(self, self.less_equal(*args, **kwargs))

    def not_equal_(self, *args, **kwargs):
        return _store(self, self.not_equal(*args, **kwargs))

    def logical_and_(self, *args, **kwargs):
        return _store(self, self.logical_and(*args, **kwargs))

    def logical_or_(self, *args, **kwargs):
        return _store(self, self.logical_or(*args, **kwargs))

    def logical_xor_(self, *args, **kwargs):
        return _store(self, self.logical_xor(*args, **kwargs))

    def bitwise_and_(self, *args, **kwargs):
        return _store(self, self.bitwise_and(*args, **kwargs))

    def bitwise_or_(self, *args, **kwargs):
        return _store(self, self.bitwise_or(*args, **kwargs))

    def bitwise_xor_(self, *args, **kwargs):
        return _store(self, self.bitwise_xor(*args, **kwargs))

    def bitwise_left_shift_(self, *args, **kwargs):
        return _store(self, self.bitwise_left_shift(*args, **kwargs))

    def bitwise_right_shift_(self, *args, **kwargs):
        return _store(self, self.bitwise_right_shift(*args, **kwargs))

    def xlogy_(self, *args, **kwargs):
        return _store(self, self.xlogy(*args, **kwargs))

    def divide_(self, *args, **kwargs):
        return _store(self, self.divide(*args, **kwargs))

    def true_divide_(self, *args, **kwargs):
        return _store(self, self.true_divide(*args, **kwargs))

    def floor_divide_(self, *args, **kwargs):
        return _store(self, self.floor_divide(*args, **kwargs))

    def cumsum_(self, *args, **kwargs):
        return _store(self, self.cumsum(*args, **kwargs))

    def cumprod_(self, *args, **kwargs):
        return _store(self, self.cumprod(*args, **kwargs))

    def logical_not_(self):
        return _store(self, self.logical_not())

    def bitwise_not_(self):
        return _store(self, self.bitwise_not())

    def float_power_(self, exponent):
        if self.dtype != _dtype.float64:
            raise RuntimeError(f"the base given to float_power_ has dtype "
                               f"{scalar_type_name(self._array.dtype)} but the operation's result "
                               f"requires dtype Double")
        return self.copy_(float_power(self, exponent))

    def clamp_min_(self, min):
        return self.clamp_(min=min)

    def clamp_max_(self, max):
        return self.clamp_(max=max)

    def clip_(self, min=None, max=None):
        return self.clamp_(min, max)

    def fill_diagonal_(self, fill_value, wrap=False):
        if self.dim() < 2:
            raise RuntimeError("dimensions must larger than 1")
        if self.dim() > 2 and len(set(self.shape)) != 1:
            raise RuntimeError("all dimensions of input must be of equal length")
        n = builtins.min(self.shape)
        if self.dim() == 2:
            rows = self.shape[0]
            step = self.shape[1] + 1
            cols = self.shape[1]
            stop = rows * cols if wrap else builtins.min(rows, cols) * cols
            flat = np.arange(0, stop, step)
            flat = flat[flat < self.numel()]
        else:
            flat = np.ravel_multi_index(tuple([np.arange(n)] * self.dim()), tuple(self.shape))
        view = self.view(-1)
        view[TensorBase._make(flat.astype(np.int64))] = fill_value
        return self

    # ------------------------------------------------------------ shapes
    def split_with_sizes(self, split_sizes, dim=0):
        return self.split(list(split_sizes), dim)

    def is_same_size(self, other):
        return tuple(self.shape) == tuple(other.shape)

    def sum_to_size(self, *size):
        return _sum_to_size(self, size)
