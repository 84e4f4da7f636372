"""Recurrent steps (RNN tanh/relu, LSTM, GRU) and the loop over time, layers and directions.

Each layer projects its whole input sequence with one matrix product; per time step there is
one product with the recurrent weight and one fused gate op (LSTMGates, GRUGates: every
nonlinearity of the step in one pass, its activations saved for backward) on the tape.

Sequences run in packed form (data: the steps one after another, each with only the sequences
still running, longest first; batch_sizes: how many per step), so variable lengths need no
masking: a sequence that has ended keeps its last state. A padded (T, N, *) input is the packed
form with every batch size N."""
import numpy as np

from cylayers import _functions as ops
from cylayers.autograd.function import Function
from cylayers.nn.functional.activation import relu
from cylayers.nn.functional.dropout import dropout
from cylayers.nn.functional.linear import linear


def _sigmoid(x):
    # exp of a non-positive number only: no overflow warning for large |x|
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class LSTMGates(Function):
    """From the gate pre-activations (N, 4H: input, forget, cell, output) and the previous cell
    state (N, H): [h, c] as one (N, 2H) array, c = f*c_prev + i*g, h = o*tanh(c)."""

    @staticmethod
    def forward(ctx, gates, c_prev):
        H = c_prev.shape[-1]
        i, f, o = (_sigmoid(gates[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
        g = np.tanh(gates[:, 2 * H:3 * H])
        c = f * c_prev + i * g
        tanh_c = np.tanh(c)
        ctx.save_for_backward(i, f, g, o, tanh_c, c_prev)
        return np.concatenate([o * tanh_c, c], axis=1)

    @staticmethod
    def backward(ctx, grad):
        i, f, g, o, tanh_c, c_prev = ctx.saved_tensors
        H = i.shape[1]
        dh, dc = grad[:, :H], grad[:, H:]
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        dgates = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                 dc * i * (1 - g * g), dh * tanh_c * o * (1 - o)], axis=1)
        return dgates, dc * f


class GRUGates(Function):
    """From the input and hidden projections (N, 3H each: reset, update, new) and the previous
    state: h = n + z*(h_prev - n), r = sigma(.), z = sigma(.), n = tanh(x_n + r*h_n)."""

    @staticmethod
    def forward(ctx, gi, gh, h_prev):
        H = h_prev.shape[-1]
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        h_n = gh[:, 2 * H:]
        n = np.tanh(gi[:, 2 * H:] + r * h_n)
        ctx.save_for_backward(r, z, n, h_n, h_prev)
        return n + z * (h_prev - n)

    @staticmethod
    def backward(ctx, grad):
        r, z, n, h_n, h_prev = ctx.saved_tensors
        dn = grad * (1 - z) * (1 - n * n)
        dr = dn * h_n * r * (1 - r)
        dz = grad * (h_prev - n) * z * (1 - z)
        gi = np.concatenate([dr, dz, dn], axis=1)
        gh = np.concatenate([dr, dz, dn * r], axis=1)
        return gi, gh, grad * z


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return ops.tanh(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh))


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return relu(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh))


def lstm_cell(input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    hc = LSTMGates.apply(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh), cx)
    H = cx.shape[-1]
    h, c = hc[:, :H], hc[:, H:]
    return (linear(h, w_hr) if w_hr is not None else h), c


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return GRUGates.apply(linear(input, w_ih, b_ih), linear(hx, w_hh, b_hh), hx)


def _direction(mode, data, batch_sizes, offsets, h, c, weights, reverse):
    """One layer in one direction over packed ``data``: (outputs in packed order, h, c)."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    projected = linear(data, w_ih, b_ih)  # every step's input projection: one product
    outputs = [None] * len(batch_sizes)
    steps = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    n = h.shape[0]
    for t in steps:
        bs = int(batch_sizes[t])
        x_t = projected[offsets[t]:offsets[t] + bs]
        h_t = h if bs == n else h[:bs]
        if mode == "LSTM":
            c_t = c if bs == n else c[:bs]
            hc = LSTMGates.apply(x_t + linear(h_t, w_hh, b_hh), c_t)
            H = c.shape[-1]
            new_h, new_c = hc[:, :H], hc[:, H:]
            if w_hr is not None:
                new_h = linear(new_h, w_hr)
            c = new_c if bs == n else ops.cat([new_c, c[bs:]], 0)
        elif mode == "GRU":
            new_h = GRUGates.apply(x_t, linear(h_t, w_hh, b_hh), h_t)
        else:
            pre = x_t + linear(h_t, w_hh, b_hh)
            new_h = ops.tanh(pre) if mode == "RNN_TANH" else relu(pre)
        outputs[t] = new_h
        # sequences already ended (reverse: not yet started) keep their state
        h = new_h if bs == n else ops.cat([new_h, h[bs:]], 0)
    return ops.cat(outputs, 0), h, c


def run_layers(mode, data, batch_sizes, hx, cx, weights, num_layers, bidirectional, dropout_p,
               training):
    """All layers and directions. ``weights[layer * D + direction]`` = (w_ih, w_hh, b_ih,
    b_hh, w_hr); hx, cx: (num_layers * D, N, *). Returns (packed output data, h_n, c_n)."""
    D = 2 if bidirectional else 1
    batch_sizes = np.asarray(batch_sizes, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)]).astype(np.int64)
    h_n, c_n = [], []
    for layer in range(num_layers):
        outs = []
        for direction in range(D):
            k = layer * D + direction
            out, h, c = _direction(mode, data, batch_sizes, offsets, hx[k],
                                   cx[k] if cx is not None else None, weights[k],
                                   reverse=direction == 1)
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        data = outs[0] if D == 1 else ops.cat(outs, 1)
        if dropout_p > 0 and training and layer < num_layers - 1:
            data = dropout(data, dropout_p, training=True)
    return data, ops.stack(h_n, 0), (ops.stack(c_n, 0) if cx is not None else None)
