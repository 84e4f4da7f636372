"""Elementwise math that numpy lacks: the error function (libm's erf/erff, as PyTorch uses)."""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport erf, erff

include "sizes.pxi"


def erf_forward(const floating[::1] x,   # IN
                floating[::1] out,       # OUT (may alias x for in-place)
                int num_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    check_length("erf_forward", "out", out.shape[0], n)
    for i in prange(n, nogil=True, schedule='static', num_threads=num_threads,
                    use_threads_if=num_threads > 1):
        if floating is float:
            out[i] = erff(x[i])
        else:
            out[i] = erf(x[i])
