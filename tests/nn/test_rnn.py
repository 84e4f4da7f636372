"""nn.RNN / LSTM / GRU and their cells against PyTorch with the same weights (load_state_dict):
outputs, final states, input/state/parameter gradients in float64 and float32, over layers,
directions, batch_first, bias, proj_size, initial states, unbatched and packed inputs
(enforce_sorted either way); the rnn utils; gradcheck; dropout between layers; errors."""
import itertools

import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
from cylayers.autograd import gradcheck
from cylayers.nn.utils import rnn as rnn_utils
from helpers import sum_tols

rng = np.random.default_rng(0)


def load_from(ours, theirs):
    ours.load_state_dict({k: cylayers.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    return ours


def close(ours, theirs, dtype=np.float64, what=""):
    a = ours.detach().numpy()
    b = theirs.detach().numpy()
    assert a.shape == b.shape, (what, a.shape, b.shape)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=3e-5, atol=3e-6)
    np.testing.assert_allclose(a, b, err_msg=str(what), **tol)


def _flatten_out(out):
    output, state = out
    if isinstance(output, (torch.nn.utils.rnn.PackedSequence, rnn_utils.PackedSequence)):
        output = output.data
    states = list(state) if isinstance(state, tuple) else [state]
    return [output] + states


CASES = list(itertools.product(
    ["RNN", "RNN_relu", "LSTM", "LSTM_proj", "GRU"],
    [1, 2],  # num_layers
    [False, True],  # bidirectional
    [False, True],  # batch_first
    ["padded", "initial state", "unbatched", "packed sorted", "packed unsorted", "no bias"]))


def _make(kind, lib, **kw):
    if kind == "RNN_relu":
        return lib.nn.RNN(nonlinearity="relu", **kw)
    if kind == "LSTM_proj":
        return lib.nn.LSTM(proj_size=2, **kw)
    return getattr(lib.nn, kind)(**kw)


@pytest.mark.parametrize("kind,layers,bidirectional,batch_first,variant", CASES)
def test_recurrent_layer_matches_pytorch(kind, layers, bidirectional, batch_first, variant):
    kw = dict(input_size=3, hidden_size=4, num_layers=layers, bidirectional=bidirectional,
              batch_first=batch_first, bias=variant != "no bias")
    theirs = _make(kind, torch, **kw).double()
    ours = load_from(_make(kind, cylayers, **kw).double(), theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    T, N = 5, 3
    D = 2 if bidirectional else 1
    x = rng.standard_normal((N, T, 3) if batch_first else (T, N, 3))
    if variant == "unbatched":
        x = x[0] if batch_first else x[:, 0]
    tx, cx = torch.tensor(x, requires_grad=True), cylayers.tensor(x, requires_grad=True)
    args_t, args_c = [tx], [cx]
    state_t = state_c = None
    if variant == "initial state":
        h_size = 2 if kind == "LSTM_proj" else 4
        h0 = rng.standard_normal((layers * D, N, h_size))
        th, ch = torch.tensor(h0, requires_grad=True), cylayers.tensor(h0, requires_grad=True)
        if kind.startswith("LSTM"):
            c0 = rng.standard_normal((layers * D, N, 4))
            tc, cc = torch.tensor(c0, requires_grad=True), cylayers.tensor(c0, requires_grad=True)
            state_t, state_c = (th, tc), (ch, cc)
        else:
            state_t, state_c = th, ch
        args_t.append(state_t)
        args_c.append(state_c)
    if variant.startswith("packed"):
        lengths = [5, 3, 2] if variant == "packed sorted" else [2, 5, 3]
        sorted_ = variant == "packed sorted"
        args_t[0] = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first,
                                                            enforce_sorted=sorted_)
        args_c[0] = rnn_utils.pack_padded_sequence(cx, lengths, batch_first,
                                                   enforce_sorted=sorted_)
        close(args_c[0].data, args_t[0].data, what="packed data")
        assert args_c[0].batch_sizes.tolist() == args_t[0].batch_sizes.tolist()
    outs_t, outs_c = _flatten_out(theirs(*args_t)), _flatten_out(ours(*args_c))
    for a, b in zip(outs_c, outs_t):
        close(a, b, what="forward")
    grads = [rng.standard_normal(tuple(o.shape)) for o in outs_t]
    sum(( o * torch.tensor(g)).sum() for o, g in zip(outs_t, grads)).backward()
    sum((o * cylayers.tensor(g)).sum() for o, g in zip(outs_c, grads)).backward()
    close(cx.grad, tx.grad, what="input grad")
    if state_t is not None:
        for a, b in zip(state_c if isinstance(state_c, tuple) else [state_c],
                        state_t if isinstance(state_t, tuple) else [state_t]):
            close(a.grad, b.grad, what="state grad")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, what=name)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_float32_and_pad_packed_sequence_round_trip(kind):
    theirs = getattr(torch.nn, kind)(3, 6, num_layers=2, bidirectional=True)
    ours = load_from(getattr(nn, kind)(3, 6, num_layers=2, bidirectional=True), theirs)
    x = rng.standard_normal((7, 4, 3)).astype(np.float32)
    lengths = [7, 2, 5, 1]
    packed_t = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths,
                                                       enforce_sorted=False)
    packed_c = rnn_utils.pack_padded_sequence(cylayers.tensor(x), lengths,
                                              enforce_sorted=False)
    out_t = torch.nn.utils.rnn.pad_packed_sequence(theirs(packed_t)[0], batch_first=True,
                                                   padding_value=-1.0, total_length=9)
    out_c = rnn_utils.pad_packed_sequence(ours(packed_c)[0], batch_first=True,
                                          padding_value=-1.0, total_length=9)
    close(out_c[0], out_t[0], np.float32)
    assert out_c[1].tolist() == out_t[1].tolist() == lengths


def test_rnn_utils_match_pytorch():
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    for batch_first, side in itertools.product([False, True], ["right", "left"]):
        close(rnn_utils.pad_sequence([cylayers.tensor(s) for s in seqs], batch_first, 7.0,
                                     padding_side=side),
              torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first,
                                              7.0, padding_side=side))
    packed_t = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs],
                                                enforce_sorted=False)
    packed_c = rnn_utils.pack_sequence([cylayers.tensor(s) for s in seqs], enforce_sorted=False)
    close(packed_c.data, packed_t.data)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        assert getattr(packed_c, field).tolist() == getattr(packed_t, field).tolist()
    for a, b in zip(rnn_utils.unpack_sequence(packed_c),
                    torch.nn.utils.rnn.unpack_sequence(packed_t)):
        close(a, b)
    data, batch_sizes, sorted_indices, unsorted_indices = packed_c  # a named tuple
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn_utils.pack_sequence([cylayers.tensor(s) for s in seqs])
    with pytest.raises(RuntimeError, match="has to be greater than 0"):
        rnn_utils.pack_padded_sequence(cylayers.zeros(3, 2, 1), [3, 0])


@pytest.mark.parametrize("kind", ["RNNCell", "RNNCell_relu", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("variant", ["batched", "unbatched", "no state", "no bias"])
def test_cells_match_pytorch(kind, variant):
    kw = dict(bias=variant != "no bias")
    if kind == "RNNCell_relu":
        theirs = torch.nn.RNNCell(3, 4, nonlinearity="relu", **kw).double()
        ours = nn.RNNCell(3, 4, nonlinearity="relu", **kw).double()
    else:
        theirs = getattr(torch.nn, kind)(3, 4, **kw).double()
        ours = getattr(nn, kind)(3, 4, **kw).double()
    load_from(ours, theirs)
    assert repr(ours) == repr(theirs)
    batch = () if variant == "unbatched" else (2,)
    x = rng.standard_normal(batch + (3,))
    tx, cx = torch.tensor(x, requires_grad=True), cylayers.tensor(x, requires_grad=True)
    state_shape = batch + (4,)
    if variant == "no state":
        out_t, out_c = theirs(tx), ours(cx)
    elif kind == "LSTMCell":
        h, c = rng.standard_normal(state_shape), rng.standard_normal(state_shape)
        out_t = theirs(tx, (torch.tensor(h), torch.tensor(c)))
        out_c = ours(cx, (cylayers.tensor(h), cylayers.tensor(c)))
    else:
        h = rng.standard_normal(state_shape)
        out_t, out_c = theirs(tx, torch.tensor(h)), ours(cx, cylayers.tensor(h))
    out_t = list(out_t) if isinstance(out_t, tuple) else [out_t]
    out_c = list(out_c) if isinstance(out_c, tuple) else [out_c]
    for a, b in zip(out_c, out_t):
        close(a, b)
    sum((o * (i + 1)).sum() for i, o in enumerate(out_t)).backward()
    sum((o * (i + 1)).sum() for i, o in enumerate(out_c)).backward()
    close(cx.grad, tx.grad)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, what=name)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradcheck(kind):
    model = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True).double()
    x = cylayers.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    assert gradcheck(lambda a: model(a)[0], (x,))
    cell = getattr(nn, kind + "Cell")(2, 3).double()
    assert gradcheck(lambda a: cell(a)[0] if kind == "LSTM" else cell(a), (x[0].detach()
                                                                           .requires_grad_(),))


def test_dropout_between_layers_in_training_only_and_argument_errors():
    model = nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = cylayers.randn(6, 2, 3)
    model.eval()
    a, b = model(x)[0], model(x)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    model.train()
    cylayers.manual_seed(1)
    c = model(x)[0]
    assert not np.allclose(c.detach().numpy(), a.detach().numpy())
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. "
                                           "Expected 3, got 5"):
        nn.GRU(3, 4)(cylayers.randn(2, 1, 5))
    with pytest.raises(RuntimeError, match="Expected hidden size \\(2, 1, 4\\), got \\[1, 1, 4\\]"):
        nn.RNN(3, 4, num_layers=2)(cylayers.randn(2, 1, 3), cylayers.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        nn.LSTM(3, 4)(cylayers.randn(1, 2, 3, 3))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_step_kernels_give_the_same_bits_on_any_thread_count(kind):
    x = np.random.default_rng(3).standard_normal((6, 32, 8)).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        cylayers.set_num_threads(threads)
        cylayers.manual_seed(0)
        layer = getattr(cylayers.nn, kind)(8, 256, num_layers=2)  # 32 x 1024 gates: threaded
        inp = cylayers.tensor(x, requires_grad=True)
        out, state = layer(inp)
        (out.sum() + sum(s.sum() for s in (state if kind == "LSTM" else (state,)))).backward()
        results.append([out.detach().numpy().copy(), inp.grad.numpy().copy()]
                       + [p.grad.numpy().copy() for p in layer.parameters()])
    cylayers.set_num_threads(2)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_step_kernels_refuse_mismatched_shapes():
    from cylayers._kernel_call import named_kernels
    from cylayers._kernels import recurrent
    k = named_kernels(recurrent)
    gates = np.zeros((4, 12), np.float32)
    state = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="recurrent.lstm_step_forward"):
        k.lstm_step_forward(gates, gates[:3], np.zeros(0, np.float32), state, gates, state,
                            state, state, 1)
    with pytest.raises(ValueError, match="recurrent.lstm_step_backward"):
        k.lstm_step_backward(gates, state, state, state, np.zeros((4, 2), np.float32), gates, 1)
    gru_gates = np.zeros((4, 9), np.float32)
    with pytest.raises(ValueError, match="recurrent.gru_step_forward"):
        k.gru_step_forward(gru_gates, gru_gates, np.zeros(8, np.float32), state, gru_gates,
                           state, state, 1)
    with pytest.raises(ValueError, match="recurrent.gru_step_backward"):
        k.gru_step_backward(gru_gates, state, state, state[:3], gru_gates, gru_gates, state, 1)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "LSTM_proj", "GRU"])
@pytest.mark.parametrize("batch,hidden,inputs", [(1, 5, 3), (7, 17, 9), (33, 20, 8),
                                                 (130, 16, 4), (200, 9, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("packed", [False, True])
def test_recurrent_step_products_match_pytorch_at_any_batch_and_width(kind, batch, hidden,
                                                                      inputs, dtype, packed):
    """The per-step products with the packed recurrent weight (_blas.PackedOperand): batches
    of one row, of several row blocks with tails, and past PANEL_MAX_ROWS (the BLAS), hidden
    sizes that leave the last panel part-filled; two bidirectional layers, padded or packed
    with shrinking batches: outputs, states and every gradient equal PyTorch's."""
    kw = dict(input_size=inputs, hidden_size=hidden, num_layers=2, bidirectional=True)
    theirs = _make(kind, torch, **kw)
    ours = load_from(_make(kind, cylayers, **kw), theirs)
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    steps = 6
    x = rng.standard_normal((steps, batch, inputs)).astype(dtype)
    tx, cx = torch.tensor(x, requires_grad=True), cylayers.tensor(x, requires_grad=True)
    if packed:
        lengths = np.sort(rng.integers(1, steps + 1, batch))[::-1].copy()
        t_in = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths))
        c_in = rnn_utils.pack_padded_sequence(cx, cylayers.tensor(lengths))
    else:
        t_in, c_in = tx, cx
    t_out, c_out = _flatten_out(theirs(t_in)), _flatten_out(ours(c_in))
    weights = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in t_out]
    sum((t * torch.tensor(w)).sum() for t, w in zip(t_out, weights)).backward()
    sum((c * cylayers.tensor(w)).sum() for c, w in zip(c_out, weights)).backward()
    for i, (c, t) in enumerate(zip(c_out, t_out)):
        close(c, t, dtype, f"output {i}")
    close(cx.grad, tx.grad, dtype, "input gradient")
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        # a weight's gradient sums over every step and sequence: float32 tolerances follow
        # the length of that sum and the gradient's size
        want = p.grad.numpy()
        np.testing.assert_allclose(q.grad.numpy(), want, err_msg=name,
                                   **sum_tols(dtype, steps * batch * hidden, want))
