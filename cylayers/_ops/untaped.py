"""Ops computed outside the tape (their results carry no gradient: comparisons, logical ops,
argmax) that an exporter must still see: a mask computed from the input is part of the model,
not a constant. ``note`` hands them to the tracer, as Function.apply does for taped ops; the
classes only name them (cylayers/onnx/ops.py maps each to ONNX)."""
from cylayers._tensor import trace_state


class Elementwise:
    """args: (a, b or None, the numpy ufunc's name)."""


class ArgExtreme:
    """args: (a, dim, keepdim, "argmax" or "argmin")."""


class MaxPoolIndices:
    """args: (input, geometry): max_pool's return_indices, positions within each plane."""


class Filled:
    """args: (size as asked, fill value): zeros/ones/full whose size was read from a tensor
    during an export trace (a zero initial state of the input's batch size)."""


class Arange:
    """args: (start, end, step) as asked, one of them read from a tensor during an export
    trace (positions 0..n-1 of an input of length n)."""


class Recurrent:
    """args: (input, h0 or None, c0 or None, the RNN/LSTM/GRU module, which output: 0 the
    sequence, 1 h_n, 2 c_n): a whole recurrent module as one op (ONNX has RNN/LSTM/GRU)."""


def annotate(out, **arguments):
    """Arguments of the op that made ``out`` which change numbers but never reach its
    Function (embedding's max_norm renormalizes the weight before the lookup)."""
    if trace_state.active is not None:
        trace_state.active.annotations[id(out)] = arguments
    return out


def note(cls, args, out):
    if trace_state.active is not None:
        trace_state.active.record(cls, args, out)
    return out
