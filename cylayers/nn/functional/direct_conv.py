"""Direct convolution for ConvFn's forward (cylayers._kernels.direct_conv): when it applies, and
the call. Backward stays with im2col (the weight's gradient is a product over the columns)."""
import math

import numpy as np

from cylayers._kernel_call import named_kernels, thread_rows
from cylayers._kernels import _openmp, direct_conv as _kernel_module
from cylayers._threads import threads_for

DK = named_kernels(_kernel_module)

# Taps per output (C * kernel volume) up to which the direct kernel beat im2col + GEMM and
# Winograd at every width measured: with so few taps a product is far from the BLAS's peak.
DIRECT_MAX_TAPS = 72
# From this output width the kernel's blocks of 32 columns are mostly full, and it beat
# Winograd too, whatever the channels; narrower, Winograd's 2.25x fewer multiplies win.
# (The measurements behind both thresholds: docs/performance.md.)
DIRECT_MIN_WIDE_COLUMNS = 24


def use_direct(geom, groups, in_channels, winograd, needs_grad):
    """Direct convolution for this forward? Only where the kernel level's vectors are 256 bits
    or wider (with narrower ones it is not faster than the BLAS), stride 1 along the last axis, one
    group. Where Winograd applies and a gradient is needed, Winograd stays: its backward reuses
    the forward's transformed input."""
    if not _register_kernels or groups != 1 or geom.s3[2] != 1:
        return False
    if winograd and needs_grad:
        return False
    taps = in_channels * math.prod(geom.k3)
    return taps <= DIRECT_MAX_TAPS or geom.out3[2] >= DIRECT_MIN_WIDE_COLUMNS


_register_kernels = _openmp.vector_bytes() >= 32


def direct_forward(xc, w, bias, geom):
    """xc (N, C, *spatial) contiguous, w (O, C, *kernel) of xc's dtype, bias an empty array for
    none: the convolution's output (N, O, *out_spatial)."""
    n, c, o = xc.shape[0], xc.shape[1], w.shape[0]
    taps = c * math.prod(geom.k3)
    single = xc.dtype == np.float32
    packed = np.empty(DK.packed_length(o, taps), dtype=xc.dtype)
    DK.pack_weights(w.reshape(-1), packed, o, taps)
    (_, kh, kw), (_, _, dw), out3 = geom.k3, geom.d3, geom.out3
    row_len = DK.row_length(out3[2], kw, dw, single)
    out = np.empty((n, o) + geom.out_spatial, dtype=xc.dtype)
    nt = threads_for(out.size)
    scratch = thread_rows(nt, DK.scratch_length(c, geom.k3[0], kh, geom.s3[1], geom.d3[1],
                                                row_len), xc.dtype)
    DK.forward(xc.reshape(-1), packed, bias, out.reshape(-1), scratch, np.empty(taps, np.intp),
               n, c, *geom.in3, *geom.k3, *geom.s3[:2], *geom.p3, *geom.d3, o, *out3, nt)
    return out
