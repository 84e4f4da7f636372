"""Shared plumbing between functional ops and the Cython kernels."""
import functools
import types

import numpy as np

from cylayers._threads import threads_for


# numpy's own float32/float64 dtype objects: an array carrying one of them is native-endian.
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def c_array(a, dtype=None):
    """``a`` as a C-contiguous array of native byte order, copying only when needed.

    Not np.ascontiguousarray: that turns 0-d arrays into 1-d ones, and keeps a big-endian
    ('>f4') dtype that the kernels' typed memoryviews refuse."""
    if type(a) is np.ndarray and (dtype is None or dtype is a.dtype):
        # Every kernel call passes here: the usual case answers in three checks.
        dt = a.dtype
        if (dt is _F32 or dt is _F64) and a.flags.c_contiguous:
            return a
    dt = a.dtype if dtype is None else np.dtype(dtype)
    if not dt.isnative:
        dt = dt.newbyteorder("=")
    return np.asarray(a, dtype=dt, order="C")


# Elements added to each per-thread row of scratch: 64 bytes or more between one thread's row
# and the next, so no cache line holds both, whatever the array's alignment. (Rows that met in
# one line made LayerNorm's backward 2-4x slower on 2 threads than on 1, in the processes whose
# allocation happened to be misaligned.)
THREAD_ROW_PAD = 16


def thread_rows(threads, length, dtype=np.float64, zero=False):
    """(threads, length + THREAD_ROW_PAD) scratch for kernels whose threads each write their own
    row many times; a kernel uses the first ``length`` elements of its row."""
    make = np.zeros if zero else np.empty
    return make((threads, length + THREAD_ROW_PAD), dtype=dtype)


def optional_array(a, dtype):
    """``a`` as a C-contiguous 1-D array of ``dtype``, or an empty one for None: how the
    kernels are told there is no weight or bias."""
    if a is None:
        return np.empty(0, dtype)
    a = c_array(a, dtype)
    return a if a.ndim == 1 else a.reshape(-1)


def float_input(x, op):
    """A C-contiguous float32/float64 array for a kernel (copying only when needed)."""
    dt = x.dtype
    if (dt is _F32 or dt is _F64) and type(x) is np.ndarray and x.flags.c_contiguous:
        return x
    if dt.kind != "f" or dt.itemsize not in (4, 8):
        raise TypeError(f"{op}: expected a float32 or float64 tensor, but got {x.dtype}")
    return c_array(x)


def grad_like(g, ref):
    """The incoming gradient as a contiguous array of ``ref``'s dtype."""
    return c_array(g, ref.dtype)


def run_unary(ctx, kernel, x, op, *params):
    """Run an elementwise kernel x -> out; writes into ctx.out when the op runs in place."""
    xc = float_input(x, op)
    target = ctx.out
    out = (target if target is not None and target.flags.c_contiguous and target.dtype.isnative
           else np.empty_like(xc))
    kernel(xc.reshape(-1), out.reshape(-1), *params, threads_for(xc.size))
    if target is not None and out is not target:
        np.copyto(target, out)
        out = target
    return out


def run_unary_backward(kernel, g, saved, *params):
    saved = c_array(saved)
    g = grad_like(g, saved)
    gi = np.empty_like(saved)
    kernel(g.reshape(-1), saved.reshape(-1), gi.reshape(-1), *params, threads_for(g.size))
    return gi


def named_kernels(module):
    """The kernel module's functions, each re-raising argument errors (a buffer of the wrong
    dtype, shape or layout) with the kernel's name, so no error leaves a kernel anonymous."""
    wrapped = types.SimpleNamespace()
    for name in dir(module):
        fn = getattr(module, name)
        if name.startswith("_") or not callable(fn):
            continue
        setattr(wrapped, name, _name_errors(fn, f"{module.__name__.rsplit('.', 1)[-1]}.{name}"))
    return wrapped


def _name_errors(fn, qualname):
    @functools.wraps(fn)
    def call(*args):
        try:
            return fn(*args)
        except (ValueError, TypeError, BufferError) as e:
            raise type(e)(f"cylayers kernel {qualname}: {e}") from e
    return call
