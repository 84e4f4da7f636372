"""Recurrent steps (RNN tanh/relu, LSTM, GRU) and the loop over time, layers and directions.

Each layer projects its whole input sequence with one matrix product (on the tape); the time
loop is one op (RecurrentLayer): per step one product with the recurrent weight (packed once)
and the gate nonlinearities in one kernel call (LSTM, GRU), their activations kept for
backward through time, which ends with one product for the recurrent weight's gradient over
all steps. The cells (one step, no loop)
use LSTMGates / GRUGates, the same gate math as ops of their own.

Sequences run in packed form (data: the steps one after another, each with only the sequences
still running, longest first; batch_sizes: how many per step), so variable lengths need no
masking: a sequence that has ended keeps its last state. A padded (T, N, *) input is the packed
form with every batch size N."""
import numpy as np

from cylayers import _blas as blas, _functions as ops
from cylayers._kernels import activation as _activation_kernels
from cylayers._kernels import recurrent as _recurrent_module
from cylayers._ops.arith import column_sums
from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import named_kernels
from cylayers.nn.functional.activation import relu
from cylayers.nn.functional.dropout import dropout
from cylayers.nn.functional.linear import linear


_recurrent_kernels = named_kernels(_recurrent_module)


def _sigmoid(x, out=None):
    """The activation kernels' sigmoid (vectorized, no overflow) of a C-contiguous array."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x) if out is None else out
    _activation_kernels.sigmoid_forward(x.reshape(-1), out.reshape(-1), threads_for(x.size))
    return out


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


class RecurrentLayer(Function):
    """One layer in one direction over a packed sequence, the whole time loop in one op:
    forward keeps each step's gate activations, backward runs back through time and computes
    the recurrent weight's gradient with one product over every step.

    Inputs: projected (rows, gates*H) = the input's projection with its bias; h0 (N, P),
    c0 (N, H) for the LSTM; w_hh (gates*H, P), b_hh; w_hr (P, H) for a projected LSTM.
    Output: one flat array [outputs (rows, P), h_n (N, P), c_n (N, H)]: a Function has one
    output; the caller cuts it into three views."""

    @staticmethod
    def forward(ctx, projected, h0, c0, w_hh, b_hh, w_hr, mode, batch_sizes, reverse):
        rows_total, n, P = projected.shape[0], h0.shape[0], h0.shape[1]
        H = c0.shape[1] if c0 is not None else P
        dtype = projected.dtype
        offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
        steps = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
        h = np.array(h0, dtype=dtype, copy=True)
        c = np.array(c0, dtype=dtype, copy=True) if c0 is not None else None
        out = np.empty((rows_total, P), dtype=dtype)
        h_prev_all = np.empty((rows_total, P), dtype=dtype)
        saved = {}
        no_bias = np.empty(0, dtype=dtype)
        fewest = int(batch_sizes[-1]) if len(batch_sizes) else 0  # rows of the last step
        step_weight = blas.PackedOperand(w_hh, True, fewest)  # read at every step
        projection = blas.PackedOperand(w_hr, True, fewest) if w_hr is not None else None
        if mode == "LSTM":
            saved["acts"] = np.empty((rows_total, 4 * H), dtype=dtype)
            saved["c_prev"] = np.empty((rows_total, H), dtype=dtype)
            saved["tanh_c"] = np.empty((rows_total, H), dtype=dtype)
            if w_hr is not None:
                saved["h_full"] = np.empty((rows_total, H), dtype=dtype)
        elif mode == "GRU":
            saved["rzn"] = np.empty((rows_total, 3 * H), dtype=dtype)
            saved["gh_n"] = np.empty((rows_total, H), dtype=dtype)
        for t in steps:
            bs = int(batch_sizes[t])
            rows = slice(offsets[t], offsets[t] + bs)
            h_t = h[:bs]
            h_prev_all[rows] = h_t
            recurrent = step_weight.left_product(h_t)
            if b_hh is not None and mode not in ("LSTM", "GRU"):  # their kernels add it
                recurrent += b_hh
            if mode == "LSTM":
                # the gate math of one step in one kernel pass; c[:bs] becomes c_new
                h_full = saved["h_full"][rows] if w_hr is not None else out[rows]
                _recurrent_kernels.lstm_step_forward(
                    projected[rows], recurrent, no_bias if b_hh is None else b_hh, c[:bs],
                    saved["acts"][rows], saved["c_prev"][rows], saved["tanh_c"][rows], h_full,
                    threads_for(bs * 4 * H))
                if w_hr is not None:
                    out[rows] = projection.left_product(h_full)
            elif mode == "GRU":
                _recurrent_kernels.gru_step_forward(
                    projected[rows], recurrent, no_bias if b_hh is None else b_hh, h_t,
                    saved["rzn"][rows], saved["gh_n"][rows], out[rows],
                    threads_for(bs * 3 * H))
            else:
                pre = projected[rows] + recurrent
                if mode == "RNN_TANH":
                    np.tanh(pre, out=out[rows])
                else:
                    np.maximum(pre, 0, out=out[rows])
            h[:bs] = out[rows]  # every branch wrote the step's output there
        ctx.mode, ctx.batch_sizes, ctx.reverse = mode, batch_sizes, reverse
        ctx.saved_arrays = saved
        ctx.save_for_backward(out, h_prev_all, w_hh, w_hr)
        ctx.shapes = (rows_total, n, P, H)
        parts = [out.reshape(-1), h.reshape(-1)] + ([c.reshape(-1)] if c is not None else [])
        return np.concatenate(parts)

    @staticmethod
    def backward(ctx, grad):
        out, h_prev_all, w_hh, w_hr = ctx.saved_tensors
        saved, mode = ctx.saved_arrays, ctx.mode
        rows_total, n, P, H = ctx.shapes
        dtype = out.dtype
        d_out = grad[:rows_total * P].reshape(rows_total, P)
        dh = np.array(grad[rows_total * P:rows_total * P + n * P].reshape(n, P), copy=True)
        dc = (np.array(grad[rows_total * P + n * P:].reshape(n, H), copy=True)
              if mode == "LSTM" else None)
        batch_sizes = ctx.batch_sizes
        offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
        forward_order = (range(len(batch_sizes) - 1, -1, -1) if ctx.reverse
                         else range(len(batch_sizes)))
        gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
        d_recurrent = np.empty((rows_total, gates * H), dtype=dtype)  # d(h_prev @ w_hh^T + b)
        d_projected = d_recurrent if mode != "GRU" else np.empty_like(d_recurrent)
        dh_all = np.empty((rows_total, P), dtype=dtype) if w_hr is not None else None
        fewest = int(batch_sizes[-1]) if len(batch_sizes) else 0
        step_weight = blas.PackedOperand(w_hh, min_rows=fewest)
        projection = blas.PackedOperand(w_hr, min_rows=fewest) if w_hr is not None else None
        for t in reversed(forward_order):
            bs = int(batch_sizes[t])
            rows = slice(offsets[t], offsets[t] + bs)
            dh_t = dh[:bs] + d_out[rows]
            if mode == "LSTM":
                if w_hr is not None:
                    dh_all[rows] = dh_t
                    dh_t = projection.left_product(dh_t)
                dg = d_recurrent[rows]
                # dgates of this step and dc[:bs] carried back to the previous one, one pass
                _recurrent_kernels.lstm_step_backward(
                    saved["acts"][rows], saved["c_prev"][rows], saved["tanh_c"][rows], dh_t,
                    dc[:bs], dg, threads_for(bs * 4 * H))
                dh[:bs] = step_weight.left_product(dg)
            elif mode == "GRU":
                dgh = d_recurrent[rows]
                # dh[:bs] (read into dh_t already) receives h_prev's direct part dh_t * z
                _recurrent_kernels.gru_step_backward(
                    saved["rzn"][rows], saved["gh_n"][rows], h_prev_all[rows], dh_t,
                    d_projected[rows], dgh, dh[:bs], threads_for(bs * 3 * H))
                dh[:bs] += step_weight.left_product(dgh)
            else:
                h_new = out[rows]
                dpre = d_recurrent[rows]
                dpre[...] = dh_t * (1 - h_new * h_new) if mode == "RNN_TANH" else \
                    dh_t * (h_new > 0)
                dh[:bs] = step_weight.left_product(dpre)
        need = ctx.needs_input_grad
        d_w_hh = blas.matmul(d_recurrent, h_prev_all, trans_a=True) if need[3] else None
        d_b_hh = column_sums(d_recurrent) if need[4] else None  # in float64
        d_w_hr = None
        if w_hr is not None and need[5]:
            d_w_hr = blas.matmul(dh_all, saved["h_full"], trans_a=True)
        return (d_projected if need[0] else None, dh if need[1] else None,
                dc if mode == "LSTM" and need[2] else None, d_w_hh, d_b_hh, d_w_hr,
                None, None, None)


def _direction(mode, data, batch_sizes, h, c, weights, reverse):
    """One layer in one direction over packed ``data``: (outputs in packed order, h, c)."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    projected = linear(data, w_ih, b_ih)  # every step's input projection: one product
    flat = RecurrentLayer.apply(projected, h, c, w_hh, b_hh, w_hr, mode, batch_sizes, reverse)
    rows, (n, P) = data.shape[0], h.shape
    out = flat[:rows * P].reshape(rows, P)
    h_n = flat[rows * P:(rows + n) * P].reshape(n, P)
    c_n = flat[(rows + n) * P:].reshape(n, c.shape[1]) if c is not None else None
    return out, h_n, c_n


def run_layers(mode, data, batch_sizes, hx, cx, weights, num_layers, bidirectional, dropout_p,
               training):
    """All layers and directions. ``weights[layer * D + direction]`` = (w_ih, w_hh, b_ih,
    b_hh, w_hr); hx, cx: (num_layers * D, N, *). Returns (packed output data, h_n, c_n)."""
    D = 2 if bidirectional else 1
    batch_sizes = np.asarray(batch_sizes, dtype=np.int64)
    h_n, c_n = [], []
    for layer in range(num_layers):
        outs = []
        for direction in range(D):
            k = layer * D + direction
            out, h, c = _direction(mode, data, batch_sizes, hx[k],
                                   cx[k] if cx is not None else None, weights[k],
                                   reverse=direction == 1)
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        data = outs[0] if D == 1 else ops.cat(outs, 1)
        if dropout_p > 0 and training and layer < num_layers - 1:
            data = dropout(data, dropout_p, training=True)
    return data, ops.stack(h_n, 0), (ops.stack(c_n, 0) if cx is not None else None)
