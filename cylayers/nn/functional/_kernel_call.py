"""Shared plumbing between functional ops and the Cython kernels."""
import numpy as np

from cylayers._threads import threads_for


def float_input(x, op):
    """A C-contiguous float32/float64 array for a kernel (copying only when needed)."""
    if x.dtype.kind != "f" or x.dtype.itemsize not in (4, 8):
        raise TypeError(f"{op}: expected a float32 or float64 tensor, but got {x.dtype}")
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def grad_like(g, ref):
    """The incoming gradient as a contiguous array of ``ref``'s dtype."""
    if g.dtype != ref.dtype or not g.flags.c_contiguous:
        g = np.ascontiguousarray(g, dtype=ref.dtype)
    return g


def run_unary(ctx, kernel, x, op, *params):
    """Run an elementwise kernel x -> out; writes into ctx.out when the op runs in place."""
    xc = float_input(x, op)
    target = ctx.out
    out = target if target is not None and target.flags.c_contiguous else np.empty_like(xc)
    kernel(xc.reshape(-1), out.reshape(-1), *params, threads_for(xc.size))
    if target is not None and out is not target:
        np.copyto(target, out)
        out = target
    return out


def run_unary_backward(kernel, g, saved, *params):
    saved = np.ascontiguousarray(saved)
    g = grad_like(g, saved)
    gi = np.empty_like(saved)
    kernel(g.reshape(-1), saved.reshape(-1), gi.reshape(-1), *params, threads_for(g.size))
    return gi
