"""torch.nn.utils.rnn: PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence,
pack_sequence, unpad_sequence, unpack_sequence.

A PackedSequence holds the time steps one after another, each with only the sequences still
running at that step (sorted longest first): ``data`` (sum of batch_sizes, *), ``batch_sizes``
(one count per step), and the permutation between the caller's order and the sorted one."""
from collections import namedtuple

import numpy as np

from cylayers import _creation, _functions as ops
from cylayers._ops import untaped
from cylayers._tensor import Tensor, trace_state


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, self.batch_sizes,
                                                          self.sorted_indices,
                                                          self.unsorted_indices)

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def _invert_permutation(permutation):
    if permutation is None:
        return None
    arr = permutation._array if isinstance(permutation, Tensor) else np.asarray(permutation)
    inverse = np.empty_like(arr)
    inverse[arr] = np.arange(arr.size, dtype=arr.dtype)
    return Tensor._make(inverse)


def _lengths_array(lengths):
    arr = lengths._array if isinstance(lengths, Tensor) else np.asarray(lengths)
    return arr.astype(np.int64).reshape(-1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    if trace_state.active is not None:  # an export: the graph keeps the padded form
        with untaped.trace_paused():
            packed = _pack_padded(input, lengths, batch_first, enforce_sorted)
        untaped.remember_padded_form(packed.data, input, _lengths_tensor(lengths), batch_first)
        return packed
    return _pack_padded(input, lengths, batch_first, enforce_sorted)


def _lengths_tensor(lengths):
    return lengths if isinstance(lengths, Tensor) else Tensor._make(_lengths_array(lengths))


def _pack_padded(input, lengths, batch_first, enforce_sorted):
    lengths = _lengths_array(lengths)
    batch_dim = 0 if batch_first else 1
    if lengths.size != input.shape[batch_dim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.size} (batch_size={input.shape[batch_dim]})")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = Tensor._make(order.astype(np.int64))
        lengths = lengths[order]
        input = input.index_select(batch_dim, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    if lengths.size and lengths[0] > input.shape[0]:
        raise RuntimeError(f"Start ({input.shape[0]}) + length ({lengths[0]}) exceeds "
                           f"dimension size ({input.shape[0]}).")
    steps = int(lengths[0]) if lengths.size else 0
    batch_sizes = np.array([(lengths > t).sum() for t in range(steps)], dtype=np.int64)
    data = ops.cat([input[t, :int(bs)] for t, bs in enumerate(batch_sizes)], 0)
    return PackedSequence(data, Tensor._make(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    if trace_state.active is None:
        return _pad_packed(sequence, batch_first, padding_value, total_length)
    source = untaped.padded_form(sequence.data)
    if source is None:
        raise RuntimeError("pad_packed_sequence: this PackedSequence cannot be exported: the "
                           "exporter follows sequences packed by pack_padded_sequence in the "
                           "model's forward (and the RNN outputs made from them)")
    with untaped.trace_paused():
        padded, lengths = _pad_packed(sequence, batch_first, padding_value, total_length)
    padded_source, source_lengths, source_batch_first = source
    untaped.note(untaped.PadPacked, (padded_source, source_lengths, source_batch_first,
                                     batch_first, float(padding_value), total_length), padded)
    return padded, source_lengths


def _pad_packed(sequence, batch_first, padding_value, total_length):
    data, batch_sizes = sequence.data, sequence.batch_sizes._array
    steps, n = len(batch_sizes), int(batch_sizes[0]) if len(batch_sizes) else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
    else:
        total_length = steps
    tail = tuple(data.shape[1:])
    rows, offset = [], 0
    for bs in batch_sizes:
        bs = int(bs)
        step = data[offset:offset + bs]
        if bs < n:
            step = ops.cat([step, _creation.full((n - bs,) + tail, padding_value,
                                                 dtype=data.dtype)], 0)
        rows.append(step)
        offset += bs
    for _ in range(total_length - steps):
        rows.append(_creation.full((n,) + tail, padding_value, dtype=data.dtype))
    padded = ops.stack(rows, 0)
    lengths = np.array([(batch_sizes > i).sum() for i in range(n)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices._array]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, Tensor._make(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    tail = tuple(sequences[0].shape[1:])
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            fill = _creation.full((missing,) + tail, padding_value, dtype=s.dtype)
            s = ops.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return ops.stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(n)] for seq, n in zip(padded_sequences, _lengths_array(lengths))]


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
