"""cylayers: a small, fast, PyTorch-shaped neural-network layer library.

A tape-based autograd engine in plain Python over numpy, with the compute-heavy layers
(normalization, dropout, activations, im2col) as Cython + OpenMP kernels.
"""
import builtins as _builtins
import os as _os

# Matrix products run on the kernels' OpenMP threads (cylayers._blas), so the threads idle
# between two kernels are waited for by nobody else: spinning briefly before sleeping lets the
# next kernel start without a wake-up (docs/performance.md has the measurement). A short spin
# (libgomp's count, unless the user chose) bounds the CPU it burns.
_os.environ.setdefault("GOMP_SPINCOUNT", "20000")

from cylayers import _malloc  # noqa: E402,F401  (reuse freed large blocks: see its docstring)
from cylayers import _blas  # noqa: E402

from cylayers._dtype import (bool_ as bool, double, dtype, finfo, float, float16, float32,
                             float64, get_default_dtype, half, iinfo, int, int8, int16, int32,
                             int64, long, set_default_dtype, short, uint8)
from cylayers._tensor import Size, Tensor
from cylayers._tensor_types import LEGACY_TYPES as _LEGACY_TYPES
from cylayers._format import set_printoptions
from cylayers.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                         is_inference_mode_enabled, no_grad, set_grad_enabled)
from cylayers._creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                                full_like, linspace, ones, ones_like, rand, rand_like, randint,
                                randn, randn_like, randperm, tensor, zeros, zeros_like)
from cylayers._functions import *  # noqa: F401,F403
from cylayers._composite import *  # noqa: F401,F403
from cylayers._random_ops import *  # noqa: F401,F403
from cylayers._threads import get_num_threads, have_openmp, set_num_threads
from cylayers.random import Generator, default_generator, initial_seed, manual_seed, seed
from cylayers.device import device
from cylayers.serialization import load, save
from cylayers import (__config__, autograd, backends, cuda, data, func,  # noqa: E402
                      distributed, linalg, nn, onnx, optim, utils)

_blas.setup()  # matrix products on the kernels' OpenMP threads; BLAS's own pool idles
globals().update(_LEGACY_TYPES)  # FloatTensor, DoubleTensor, LongTensor, IntTensor, BoolTensor...

__version__ = "0.1.0"


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


_deterministic = [False]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Accepted: every cylayers kernel is deterministic (the same numbers for any thread count),
    so there is nothing to switch."""
    _deterministic[0] = _builtins.bool(mode)  # `bool` here is the dtype


def are_deterministic_algorithms_enabled():
    return _deterministic[0]
