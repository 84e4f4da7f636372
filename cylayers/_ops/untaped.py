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
