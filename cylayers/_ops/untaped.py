"""Ops computed outside the tape (their results carry no gradient: comparisons, logical ops,
argmax) that an exporter must still see: a mask computed from the input is part of the model,
not a constant. ``note`` hands them to the tracer, as Function.apply does for taped ops; the
classes only name them (cylayers/onnx/ops.py maps each to ONNX)."""
import contextlib

from cylayers._tensor_base import trace_state


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
    sequence, 1 h_n, 2 c_n, lengths or None, whether input is batch-first): a whole recurrent
    module as one op (ONNX has RNN/LSTM/GRU). With lengths, input is a packed sequence's padded
    form and output 0 the output's, time-major, as long as the longest sequence."""


class PadPacked:
    """args: (padded, lengths, whether padded is batch-first, batch_first, padding_value,
    total_length): pad_packed_sequence during an export trace, from the padded form of the
    packed sequence (its values past each length arbitrary)."""


def remember_padded_form(packed_data, padded, lengths, batch_first):
    """During an export trace: a packed sequence (its data tensor) stands for ``padded``
    (T, N, *), or (N, T, *) when batch_first, with these lengths in the caller's order. The
    graph computes on the padded form; the packed layout never enters it."""
    if trace_state.active is not None:
        trace_state.active.annotations.setdefault(id(packed_data), {})["padded_form"] = (
            padded, lengths, batch_first)


def padded_form(packed_data):
    """What remember_padded_form recorded for this packed data, or None."""
    if trace_state.active is None:
        return None
    return trace_state.active.annotations.get(id(packed_data), {}).get("padded_form")


@contextlib.contextmanager
def trace_paused():
    """Ops run inside are not traced (a module exported as one op computes its result)."""
    tracer, trace_state.active = trace_state.active, None
    try:
        yield tracer
    finally:
        trace_state.active = tracer


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
