"""ONNX export of the sequence modules (attention, Transformer layers, RNN/LSTM/GRU and their
cells): ONNX Runtime matches cylayers to 1e-4 at two batch sizes and two sequence lengths
through dynamic axes. Recurrent layers export as ONNX's RNN/LSTM/GRU ops (not unrolled steps,
which would fix the length); a causal mask follows the length."""
import io
import warnings

import numpy as np
import onnxruntime as ort
import pytest

import cylayers
from cylayers import nn
from cylayers.onnx import TracerWarning


def _check(model, make_inputs, names, dynamic, sizes, outputs=None):
    model.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        cylayers.onnx.export(model, tuple(make_inputs(*sizes[0])), buf, input_names=names,
                             output_names=outputs, dynamic_axes=dynamic)
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for n, t in sizes:
        xs = make_inputs(n, t)
        got = session.run(None, {k: x.numpy() for k, x in zip(names, xs)})
        with cylayers.no_grad():
            want = model(*xs)
        want = [want] if isinstance(want, cylayers.Tensor) else _flatten(want)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.shape == tuple(b.shape)
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-5)


def _flatten(out):
    flat = []
    for o in out:
        flat += _flatten(o) if isinstance(o, (tuple, list)) else [o]
    return flat


SIZES = [(3, 7), (5, 4)]  # (batch, length): two of each
rng = np.random.default_rng(0)


def _seq(shape_fn):
    return lambda n, t: [cylayers.tensor(rng.standard_normal(shape_fn(n, t)).astype(np.float32))]


class SelfAttention(nn.Module):
    def __init__(self, need_weights, causal):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.need_weights, self.causal = need_weights, causal

    def forward(self, x):
        kw = {}
        if self.causal:
            kw = dict(attn_mask=nn.Transformer.generate_square_subsequent_mask(x.size(1)),
                      is_causal=True)
        out, w = self.attn(x, x, x, need_weights=self.need_weights, **kw)
        return (out, w) if w is not None else out


@pytest.mark.parametrize("need_weights,causal", [(True, False), (False, False), (False, True)])
def test_multihead_self_attention_exports(need_weights, causal):
    _check(SelfAttention(need_weights, causal), _seq(lambda n, t: (n, t, 8)), ["x"],
           {"x": {0: "batch", 1: "length"}}, SIZES)


def test_sdpa_with_a_padding_mask_input_exports():
    class Attend(nn.Module):
        def forward(self, q, keep):
            return nn.functional.scaled_dot_product_attention(q, q, q,
                                                              attn_mask=keep[:, None, None])

    def inputs(n, t):
        keep = np.ones((n, t), dtype=bool)
        keep[0, t // 2:] = False
        return [cylayers.tensor(rng.standard_normal((n, 2, t, 4)).astype(np.float32)),
                cylayers.tensor(keep)]

    _check(Attend(), inputs, ["q", "keep"], {"q": {0: "b", 2: "t"}, "keep": {0: "b", 1: "t"}},
           SIZES)


@pytest.mark.parametrize("norm_first", [False, True])
def test_causal_transformer_encoder_lm_exports(norm_first):
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(13, 8)
            layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True,
                                               norm_first=norm_first, activation="gelu")
            self.blocks = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
            self.head = nn.Linear(8, 13)

        def forward(self, idx):
            mask = nn.Transformer.generate_square_subsequent_mask(idx.size(1))
            return self.head(self.blocks(self.embed(idx), mask=mask, is_causal=True))

    _check(LM(), lambda n, t: [cylayers.tensor(rng.integers(0, 13, (n, t)))], ["idx"],
           {"idx": {0: "batch", 1: "length"}}, SIZES)


def test_full_transformer_exports():
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0)

    def inputs(n, t):
        return [cylayers.tensor(rng.standard_normal((t + 2, n, 8)).astype(np.float32)),
                cylayers.tensor(rng.standard_normal((t, n, 8)).astype(np.float32))]

    _check(model, inputs, ["src", "tgt"], {"src": {0: "s", 1: "b"}, "tgt": {0: "t", 1: "b"}},
           SIZES)


@pytest.mark.parametrize("kind", ["RNN", "RNN_relu", "LSTM", "GRU", "LSTM_proj"])
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False),
                                                              (2, True, True),
                                                              (2, False, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_export_as_onnx_ops(kind, layers, bidirectional, batch_first,
                                             with_state):
    """As ONNX's RNN/LSTM/GRU; an LSTM with proj_size (which ONNX's LSTM lacks) as a Scan
    over the steps."""
    make = {"RNN_relu": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
            "LSTM_proj": lambda **kw: nn.LSTM(proj_size=2, **kw)}.get(kind, getattr(nn, kind, None))
    model = make(input_size=3, hidden_size=5, num_layers=layers, bidirectional=bidirectional,
                 batch_first=batch_first, dropout=0.2 if layers > 1 else 0.0)
    D = 2 if bidirectional else 1
    state_sizes = {"LSTM_proj": (2, 5), "LSTM": (5, 5)}.get(kind, (5,))

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = model

        def forward(self, x, *state):
            if not state:
                return self.rnn(x)
            return self.rnn(x, tuple(state) if len(state) == 2 else state[0])

    def inputs(n, t):
        x = rng.standard_normal((n, t, 3) if batch_first else (t, n, 3)).astype(np.float32)
        xs = [cylayers.tensor(x)]
        if with_state:
            for size in state_sizes:
                xs.append(cylayers.tensor(rng.standard_normal((layers * D, n, size))
                                          .astype(np.float32)))
        return xs

    names = ["x"] + (["h0", "c0"][:len(state_sizes)] if with_state else [])
    seq_axes = {0: "batch", 1: "length"} if batch_first else {0: "length", 1: "batch"}
    dynamic = {"x": seq_axes, **{n: {1: "batch"} for n in names[1:]}}
    proto_model = Wrap()
    _check(proto_model, inputs, names, dynamic, SIZES)
    buf = io.BytesIO()
    proto = cylayers.onnx.export(proto_model.eval(), tuple(inputs(2, 3)), buf, input_names=names)
    ops = {n.op_type for n in proto.graph.node}
    want = {"Scan"} if kind == "LSTM_proj" else {kind.split("_")[0]}
    assert ({"LSTM", "GRU", "RNN", "Scan"} & ops) == want


def test_unbatched_recurrent_input_and_cells_export():
    for lstm in (nn.LSTM(3, 4, num_layers=2), nn.LSTM(3, 4, num_layers=2, proj_size=2)):
        _check(lstm, lambda n, t: [cylayers.tensor(rng.standard_normal((t, 3))
                                                   .astype(np.float32))],
               ["x"], {"x": {0: "length"}}, [(1, 6), (1, 2)])
    for cell in (nn.LSTMCell(3, 4), nn.GRUCell(3, 4), nn.RNNCell(3, 4, nonlinearity="relu")):
        _check(cell, _seq(lambda n, t: (n, 3)), ["x"], {"x": {0: "batch"}}, SIZES)


def test_packed_sequences_the_exporter_cannot_follow_are_refused():
    packed = nn.utils.rnn.pack_sequence([cylayers.randn(3, 2), cylayers.randn(2, 2)])
    with pytest.raises(RuntimeError, match="this PackedSequence input cannot be exported"):
        cylayers.onnx.export(nn.GRU(2, 3).eval(), (packed,), io.BytesIO())

    class PadsWhatItDidNotPack(nn.Module):  # a PackedSequence built from its fields
        def forward(self, x):
            packed = nn.utils.rnn.PackedSequence(x.reshape(-1, 2), cylayers.tensor([2, 2, 2]))
            return nn.utils.rnn.pad_packed_sequence(packed)[0]
    with pytest.raises(RuntimeError, match="this PackedSequence cannot be exported"):
        cylayers.onnx.export(PadsWhatItDidNotPack().eval(), cylayers.randn(2, 3, 2),
                             io.BytesIO())


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN", "LSTM_proj"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("batch_first,enforce_sorted", [(True, False), (False, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_packed_sequences_export_with_their_lengths_as_an_input(kind, layers, bidirectional,
                                                                batch_first, enforce_sorted,
                                                                with_state):
    """pack_padded_sequence -> RNN -> pad_packed_sequence exports as the RNN op with
    sequence_lens: the output, padded as PyTorch pads it (zeros past each length, as long as
    the longest), and the states of each sequence's last step, for lengths given at run time;
    the padded input may be longer than the longest sequence."""
    D = 2 if bidirectional else 1
    rnn = getattr(nn, kind.split("_")[0])(3, 4, num_layers=layers, bidirectional=bidirectional,
                                          batch_first=batch_first,
                                          **({"proj_size": 3} if kind == "LSTM_proj" else {}))
    state_sizes = {"LSTM": (4, 4), "LSTM_proj": (3, 4)}.get(kind, (4,))
    utils = nn.utils.rnn

    class Packed(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn

        def forward(self, x, lengths, *state):
            packed = utils.pack_padded_sequence(x, lengths, batch_first=batch_first,
                                                enforce_sorted=enforce_sorted)
            hx = None
            if state:
                hx = tuple(state) if len(state) == 2 else state[0]
            out, states = self.rnn(packed, hx)
            padded, out_lengths = utils.pad_packed_sequence(out, batch_first=batch_first)
            return (padded, out_lengths) + (states if len(state_sizes) == 2 else (states,))

    def inputs(n, t):
        lengths = rng.integers(1, t, n)  # at (3, 7) the padding runs past the longest
        if n == 5:
            lengths[int(rng.integers(0, n))] = t
        if enforce_sorted:
            lengths = np.sort(lengths)[::-1].copy()
        x = rng.standard_normal((n, t, 3) if batch_first else (t, n, 3)).astype(np.float32)
        xs = [cylayers.tensor(x), cylayers.tensor(lengths.astype(np.int64))]
        if with_state:
            xs += [cylayers.tensor(rng.standard_normal((layers * D, n, size))
                                   .astype(np.float32)) for size in state_sizes]
        return xs

    names = ["x", "lengths"] + (["h0", "c0"][:len(state_sizes)] if with_state else [])
    seq_axes = {0: "batch", 1: "length"} if batch_first else {0: "length", 1: "batch"}
    dynamic = {"x": seq_axes, "lengths": {0: "batch"},
               **{name: {1: "batch"} for name in names[2:]}}
    _check(Packed(), inputs, names, dynamic, SIZES)


@pytest.mark.parametrize("total_length,padding_value", [(None, -1.5), (9, 0.0), (9, 2.0)])
def test_pad_packed_sequence_exports_padding_value_and_total_length(total_length,
                                                                    padding_value):
    utils = nn.utils.rnn

    class Stacked(nn.Module):  # a packed output packed into a second LSTM, then padded
        def __init__(self):
            super().__init__()
            self.first, self.second = nn.LSTM(3, 4), nn.GRU(4, 2)

        def forward(self, x, lengths):
            packed = utils.pack_padded_sequence(x, lengths, enforce_sorted=False)
            out, _ = self.second(self.first(packed)[0])
            return utils.pad_packed_sequence(out, padding_value=padding_value,
                                             total_length=total_length)[0]

    def inputs(n, t):
        lengths = rng.integers(1, t + 1, n)
        return [cylayers.tensor(rng.standard_normal((t, n, 3)).astype(np.float32)),
                cylayers.tensor(lengths.astype(np.int64))]
    _check(Stacked(), inputs, ["x", "lengths"], {"x": {0: "length", 1: "batch"},
                                                 "lengths": {0: "batch"}}, SIZES)


def test_positions_from_arange_of_a_size_follow_the_length():
    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            self.token, self.position = nn.Embedding(11, 4), nn.Embedding(16, 4)

        def forward(self, idx):
            n = idx.size(1)
            shifted = cylayers.arange(2, n, 3).float().sum()  # start and step too
            return self.token(idx) + self.position(cylayers.arange(n)) + shifted

    _check(Positions(), lambda n, t: [cylayers.tensor(rng.integers(0, 11, (n, t)))], ["idx"],
           {"idx": {0: "batch", 1: "length"}}, SIZES)
