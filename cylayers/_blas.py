"""cylayers' own BLAS, driven from cylayers' OpenMP threads (cylayers._kernels.gemm).

The OpenBLAS made for packagers (the ``scipy-openblas32`` wheel, a dependency) is loaded
privately: its symbols carry a ``scipy_`` prefix and 32-bit integers, so they cannot clash with
numpy's BLAS (``scipy_..._64_``) or any other, and its own thread pool is set to one thread.
Every product then runs on the same OpenMP threads as the other kernels, and numpy's BLAS keeps
the thread count it had: ``import cylayers`` changes nothing in the user's numpy. Where that
wheel is missing (a platform without one), products go through numpy's matmul."""
import ctypes
import os

import numpy as np

from cylayers._kernels import _openmp, gemm as _gemm
from cylayers._kernel_call import c_array
from cylayers._threads import threads_for

_info = {"active": False, "reason": "not probed"}


def _own_openblas():
    """The scipy-openblas32 library's entry points, or (None, why not)."""
    try:
        import scipy_openblas32
    except ImportError:
        return None, "the scipy-openblas32 package is not installed"
    path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(True))
    try:
        lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_LOCAL", 0))
    except OSError as exc:
        return None, f"could not load {path}: {exc}"
    names = ("scipy_cblas_sgemm", "scipy_cblas_dgemm", "scipy_openblas_set_num_threads",
             "scipy_openblas_get_config")
    if not all(hasattr(lib, n) for n in names):
        return None, f"{path} lacks the scipy_-prefixed cblas entry points"
    get_config = lib.scipy_openblas_get_config
    get_config.restype = ctypes.c_char_p
    config = get_config().decode(errors="replace")
    if "USE64BITINT" in config:
        return None, f"{path} is an ILP64 build, not scipy-openblas32's"
    return dict(lib=lib, sgemm=ctypes.cast(lib.scipy_cblas_sgemm, ctypes.c_void_p).value,
                dgemm=ctypes.cast(lib.scipy_cblas_dgemm, ctypes.c_void_p).value,
                set_threads=lib.scipy_openblas_set_num_threads, path=path, config=config), None


def setup():
    """Route matrix products through the OpenMP gemm kernel on cylayers' own OpenBLAS."""
    found, reason = _own_openblas()
    if found is None:
        _info.update(active=False, reason=reason)
        return False
    _gemm.set_blas(found["sgemm"], found["dgemm"], False)
    found["set_threads"](1)  # its own pool idles: the OpenMP threads do the work
    _info.update(active=True, reason="", path=found["path"], int64=False,
                 config=found["config"], _keep=found["lib"])
    return True


def info():
    """Whether products run on cylayers' threads, and through which library."""
    return {k: v for k, v in _info.items() if not k.startswith("_")}


def active():
    return _info["active"]


_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))
# Below this many multiply-adds a product runs on one thread: waking a second costs more.
_PARALLEL_MIN_MACS = 1 << 16


def matmul(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) for 2-D or 3-D (batched) float arrays, op the transpose when asked,
    computed on cylayers' threads (numpy's matmul otherwise). A batch of one broadcasts; a
    batch of a that divides b's is cycled through, item i using a[i % len(a)] (the weights of
    a grouped convolution applied to blocks of images)."""
    batch_a = a.shape[0] if a.ndim == 3 else 1
    batch_b = b.shape[0] if b.ndim == 3 else 1
    if batch_a != batch_b and 1 not in (batch_a, batch_b) and batch_b % batch_a:
        raise ValueError(f"matmul: batch sizes {batch_a} and {batch_b} do not broadcast")
    if not _info["active"] or a.dtype != b.dtype or a.dtype not in _FLOAT or \
            a.ndim not in (2, 3) or b.ndim not in (2, 3) or \
            max(batch_a, batch_b) * (a.size // max(batch_a, 1)) * \
            b.shape[-2 if trans_b else -1] < _PARALLEL_MIN_MACS:
        # Products too small for a second thread go to numpy's matmul: its call costs half
        # the gemm kernel's for them, and numpy's BLAS runs them on one thread of its own
        # whatever cylayers' thread count.
        return _numpy_matmul(a, b, trans_a, trans_b, batch_a, batch_b)
    m, k = (a.shape[-1], a.shape[-2]) if trans_a else a.shape[-2:]
    k_b, n = (b.shape[-1], b.shape[-2]) if trans_b else b.shape[-2:]
    if k != k_b:
        raise ValueError(f"matmul: inner dimensions differ ({k} vs {k_b})")
    batch = batch_a if batch_b == 1 else batch_b  # numpy's rule: 1 broadcasts, even to 0
    out = np.empty(((batch,) if max(a.ndim, b.ndim) == 3 else ()) + (m, n), dtype=a.dtype)
    if batch == 0:
        return out
    # a's items cycle through b's: b's batch as (repeats, batch_a) against a's (1, batch_a)
    inner = batch_a if batch_a > 1 else batch
    a4 = a.reshape((1, batch_a) + a.shape[-2:])
    b4 = b.reshape(((batch // inner, inner) if batch_b > 1 else (1, 1)) + b.shape[-2:])
    c4 = out.reshape((batch // inner, inner, m, n))
    _gemm_into(a4, b4, c4, trans_a, trans_b, threads_for(batch * m * n * k, _PARALLEL_MIN_MACS))
    return out


def _gemm_into(a4, b4, c4, trans_a, trans_b, threads):
    """gemm_nd on (batch, batch, rows, columns) arrays, an operand the BLAS cannot address
    copied first; False (nothing written) where c4 itself cannot be addressed."""
    status = _gemm.gemm_nd(a4, b4, c4, trans_a, trans_b, threads)
    if status == 1 or status == 2:
        status = _gemm.gemm_nd(np.ascontiguousarray(a4), np.ascontiguousarray(b4), c4, trans_a,
                               trans_b, threads)
    return status != 3


def matmul_nd(a, b, trans_a=False, trans_b=False, out=None):
    """np.matmul(op(a), op(b)) for float arrays of two or more dimensions (batch dimensions
    broadcast as numpy's), op swapping the last two axes when asked, computed on cylayers'
    threads: numpy's own BLAS would start its thread pool beside cylayers' OpenMP threads,
    and the two fight over the cores (a Transformer step ran 1.4-1.5x slower). Strided
    operands (the heads of attention: views of one projection, keys transposed) go to the BLAS
    where they lie; only a layout it cannot address is copied first. ``out``, an array of the
    result's shape and dtype in any layout, receives the result (a gradient laid out as its
    operand, so that the views taken of the operand are views of the gradient too)."""
    if (not _info["active"] or a.ndim < 2 or b.ndim < 2 or a.dtype != b.dtype
            or a.dtype not in _FLOAT or 0 in a.shape or 0 in b.shape
            or (out is not None and out.dtype != a.dtype)):
        return np.matmul(np.swapaxes(a, -1, -2) if trans_a else a,
                         np.swapaxes(b, -1, -2) if trans_b else b, out=out)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m = a.shape[-1] if trans_a else a.shape[-2]
    k = a.shape[-2] if trans_a else a.shape[-1]
    n = b.shape[-2] if trans_b else b.shape[-1]
    if (b.shape[-1] if trans_b else b.shape[-2]) != k:
        raise ValueError(f"matmul: inner dimensions differ ({k} vs "
                         f"{b.shape[-1] if trans_b else b.shape[-2]})")
    if out is None:
        out = np.empty(batch + (m, n), dtype=a.dtype)
    elif out.shape != batch + (m, n):
        raise ValueError(f"matmul: out has shape {out.shape}, expected {batch + (m, n)}")
    items = int(np.prod(batch, dtype=np.int64))
    if items * m * n * k < _PARALLEL_MIN_MACS:
        return np.matmul(np.swapaxes(a, -1, -2) if trans_a else a,
                         np.swapaxes(b, -1, -2) if trans_b else b, out=out)
    threads = threads_for(items * m * n * k, _PARALLEL_MIN_MACS)
    if len(batch) > 2:  # the batch as two dimensions: merged where the layouts allow
        a, b = (np.broadcast_to(x, batch + x.shape[-2:]) for x in (a, b))
    a4, b4, c4 = _four_dims(a), _four_dims(b), _four_dims(out)
    a4 = _four_dims(np.ascontiguousarray(a)) if a4 is None else a4
    b4 = _four_dims(np.ascontiguousarray(b)) if b4 is None else b4
    if c4 is None or not _gemm_into(a4, b4, c4, trans_a, trans_b, threads):
        out[...] = matmul_nd(a, b, trans_a, trans_b)  # computed apart, then copied in
    return out


def _four_dims(x):
    """x as (batch, batch, rows, columns), a view (None where its batch dimensions cannot
    merge into two without a copy: only for more than two)."""
    if x.ndim == 4:
        return x
    if x.ndim < 4:
        return x.reshape((1,) * (4 - x.ndim) + x.shape)
    merged = x.view()
    try:
        merged.shape = (-1,) + x.shape[-3:]
    except AttributeError:
        return None
    return merged


def thin_matmul(a, b, trans_a=False):
    """op(a[i]) @ b[i] for a batch of thin products (few rows, few columns or a short inner
    dimension: the Winograd convolution's, per transform component). Where the kernel level has
    256-bit or wider vectors and b's columns fill whole vectors, a register-blocked kernel computes them
    (_kernels/gemm.pyx: register_gemm; 1.7x the BLAS's speed on these shapes); else matmul.
    The kernel sums each element in order in the arrays' type: a long inner dimension (above
    THIN_MAX_INNER) stays with the BLAS, whose blocked sums round less (a Winograd weight
    gradient sums over every tile: 1024 float32 terms in order were off by 3e-3 relative)."""
    if (a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.dtype != b.dtype
            or not thin_fits(a.dtype, a.shape[1] if trans_a else a.shape[2], b.shape[-1])):
        return matmul(a, b, trans_a=trans_a)
    a, b = c_array(a), c_array(b)
    batch, (m, k), n = a.shape[0], a.shape[:0:-1] if trans_a else a.shape[1:], b.shape[-1]
    if b.shape[1] != k:
        raise ValueError(f"thin_matmul: inner dimensions differ ({k} vs {b.shape[1]})")
    out = np.empty((batch, m, n), dtype=a.dtype)
    _gemm.register_gemm(a.reshape(-1), b.reshape(-1), out.reshape(-1), batch, m, n, k, trans_a,
                        threads_for(batch * m * n * k, _PARALLEL_MIN_MACS))
    return out


def thin_fits(dtype, inner, columns):
    """Whether register_gemm takes products of this dtype, inner dimension and column count."""
    return (_register_kernels and dtype in _FLOAT and inner <= THIN_MAX_INNER
            and columns % _gemm.register_columns(dtype == np.float32) == 0)


# The register kernel beats the BLAS on these shapes where vectors are 256 bits or wider.
_register_kernels = _openmp.vector_bytes() >= 32


class PackedOperand:
    """A right operand op(b) (K x N) packed once for many products with few rows each: an RNN's
    recurrent weight, multiplied at every time step by (batch x K) states. The BLAS packs its
    right operand again at every call, for only the batch's rows; the panel kernel
    (_kernels/gemm.pyx: panel_gemm) reads the packing made here. It is used where its vectors
    are 256 bits or wider and a product has at most PANEL_MAX_ROWS rows; other products go to
    matmul, and b is not packed when all the caller's products (``min_rows`` rows at least)
    would. Packing copies b: change b, pack again."""

    def __init__(self, b, trans_b=False, min_rows=1):
        self.b, self.trans_b = b, trans_b
        self.panels = None
        if (_register_kernels and b.ndim == 2 and b.dtype in _FLOAT
                and min_rows <= PANEL_MAX_ROWS):
            right = b.T if trans_b else b
            width = _gemm.panel_width(b.dtype == np.float32)
            self.panels = np.empty(-(-right.shape[1] // width) * right.shape[0] * width,
                                   dtype=b.dtype)
            _gemm.pack_panels(right, self.panels)

    def left_product(self, a):
        """a @ op(b) for a 2-D a."""
        k_b, n = self.b.shape[::-1] if self.trans_b else self.b.shape
        m, k = a.shape
        if k != k_b:
            raise ValueError(f"matmul: inner dimensions differ ({k} vs {k_b})")
        if self.panels is None or a.dtype != self.b.dtype or m > PANEL_MAX_ROWS:
            return matmul(a, self.b, trans_b=self.trans_b)
        out = np.empty((m, n), dtype=a.dtype)
        _gemm.panel_gemm(c_array(a), self.panels, out,
                         threads_for(m * n * k, _PARALLEL_MIN_MACS))
        return out


# Up to this many rows the panel kernel beats the BLAS (docs/performance.md has the times).
PANEL_MAX_ROWS = 128
THIN_MAX_INNER = 64


def _numpy_matmul(a, b, trans_a, trans_b, batch_a, batch_b):
    a = a.swapaxes(-1, -2) if trans_a else a
    b = b.swapaxes(-1, -2) if trans_b else b
    if batch_a > 1 and batch_b not in (1, batch_a):  # cycle a: b as (repeats, batch_a)
        out = np.matmul(a, b.reshape((batch_b // batch_a, batch_a) + b.shape[1:]))
        return out.reshape((batch_b,) + out.shape[2:])
    return np.matmul(a, b)


# The weight gradient's sum over blocks of images runs as this many partial sums (fewer when
# there are fewer blocks), a fixed number so the rounding does not depend on the thread count.
SUM_CHUNKS = 8


def matmul_sum(a, b, trans_a=False, trans_b=False):
    """sum over s of op(a[s, g]) @ op(b[s, g]) for 4-D float arrays (S, G, ., .): (G, M, N)."""
    sums, groups = a.shape[:2]
    m, k = (a.shape[-1], a.shape[-2]) if trans_a else a.shape[-2:]
    n = b.shape[-2] if trans_b else b.shape[-1]
    chunks = max(1, min(SUM_CHUNKS, sums))
    if not _info["active"] or a.dtype != b.dtype or a.dtype not in _FLOAT or sums == 0 \
            or k == 0:
        a = a.swapaxes(-1, -2) if trans_a else a
        b = b.swapaxes(-1, -2) if trans_b else b
        return np.matmul(a, b).sum(axis=0) if sums else np.zeros((groups, m, n), a.dtype)
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    partial = np.empty((chunks, groups, m, n), dtype=a.dtype)
    nt = threads_for(sums * groups * m * n * k, _PARALLEL_MIN_MACS)
    _gemm.gemm_sum(a.reshape(-1), b.reshape(-1), partial.reshape(-1), sums, groups, m, n, k,
                   trans_a, trans_b, chunks, nt)
    return partial[0] if chunks == 1 else partial.sum(axis=0)
