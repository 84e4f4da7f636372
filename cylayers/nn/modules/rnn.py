"""nn.RNN, nn.LSTM (with proj_size), nn.GRU and their cells, with PyTorch's parameter names,
shapes, initialization, argument checks and return values; PackedSequence inputs."""
import math
import numbers
import warnings

import numpy as np

from cylayers import _creation
from cylayers._ops import untaped
from cylayers._tensor import trace_state
from cylayers.nn import init
from cylayers.nn.functional import rnn as rnn_ops
from cylayers.nn.modules.module import Module
from cylayers.nn.parameter import Parameter
from cylayers.nn.utils.rnn import PackedSequence, pad_packed_sequence

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


class RNNBase(Module):
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None,
                 dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or \
                not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=3)
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bias = num_layers, bias
        self.batch_first, self.dropout = batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        D = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for direction in range(D):
                layer_input = input_size if layer == 0 else real_hidden * D
                suffix = "_reverse" if direction == 1 else ""
                shapes = [(f"weight_ih_l{layer}{suffix}", (gate_size, layer_input)),
                          (f"weight_hh_l{layer}{suffix}", (gate_size, real_hidden))]
                if bias:
                    shapes += [(f"bias_ih_l{layer}{suffix}", (gate_size,)),
                               (f"bias_hh_l{layer}{suffix}", (gate_size,))]
                if proj_size > 0:
                    shapes.append((f"weight_hr_l{layer}{suffix}", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name, Parameter(_creation.empty(*shape, dtype=dtype)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        D = 2 if self.bidirectional else 1
        per = len(self._flat_weights_names) // (self.num_layers * D)
        flat = self._flat_weights
        return [flat[k * per:(k + 1) * per] for k in range(self.num_layers * D)]

    def _weights_per_direction(self):
        """(w_ih, w_hh, b_ih, b_hh, w_hr) for each layer and direction."""
        out = []
        for group in self.all_weights:
            w_ih, w_hh = group[0], group[1]
            b_ih, b_hh = (group[2], group[3]) if self.bias else (None, None)
            w_hr = group[-1] if self.proj_size > 0 else None
            out.append((w_ih, w_hh, b_ih, b_hh, w_hr))
        return out

    def flatten_parameters(self):
        """PyTorch's cuDNN weight compaction; nothing to do on the CPU."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _check_hidden(self, hx, expected, what="hidden"):
        if tuple(hx.shape) != tuple(expected):
            raise RuntimeError(f"Expected {what} size {tuple(expected)}, got "
                               f"{list(hx.shape)}")

    def forward(self, input, hx=None):
        if trace_state.active is None:
            return self._forward(input, hx)
        # An exporter sees the whole module as one op per output (not its unrolled steps,
        # which would fix the sequence length); a packed sequence as its padded form and
        # lengths (ONNX's sequence_lens), so its lengths are not fixed either.
        packed = isinstance(input, PackedSequence)
        source = untaped.padded_form(input.data) if packed else None
        if packed and source is None:
            raise RuntimeError(f"{type(self).__name__}: this PackedSequence input cannot be "
                               "exported (its lengths and batch sizes would be fixed in the "
                               "graph): pack it with pack_padded_sequence inside the model's "
                               "forward, or export the model with a padded input")
        with untaped.trace_paused():
            result = self._forward(input, hx)
            output, state = result
            if packed:
                padded_output = pad_packed_sequence(output)[0]
        h0, c0 = (hx if isinstance(hx, (tuple, list)) else (hx, None)) if hx is not None \
            else (None, None)
        states = state if isinstance(state, tuple) else (state,)
        x, lengths, batch_first = source if packed else (input, None, self.batch_first)
        for which, out in enumerate(((padded_output if packed else output),) + states):
            untaped.note(untaped.Recurrent, (x, h0, c0, self, which, lengths, batch_first),
                         out)
        if packed:
            untaped.remember_padded_form(output.data, padded_output, lengths, False)
        return result

    def _forward(self, input, hx=None):
        is_lstm = self.mode == "LSTM"
        D = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes = input.data, input.batch_sizes._array
            sorted_indices, unsorted_indices = input.sorted_indices, input.unsorted_indices
            n = int(batch_sizes[0])
            batched = True
            if data.ndim != 2:
                raise RuntimeError(f"packed input must have 2 dimensions, got {data.ndim}")
            feature = data.shape[-1]
        else:
            if input.ndim not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                                 f"{input.ndim}D tensor instead")
            batched = input.ndim == 3
            x = input if batched else input.unsqueeze(1)
            if self.batch_first and batched:
                x = x.transpose(0, 1)
            T, n, feature = x.shape
            data = x.reshape(T * n, feature)
            batch_sizes = np.full(T, n, dtype=np.int64)
            sorted_indices = unsorted_indices = None
        if feature != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {feature}")
        h_shape = (self.num_layers * D, n, real_hidden)
        c_shape = (self.num_layers * D, n, self.hidden_size)
        if hx is None:
            h0 = _creation.zeros(*h_shape, dtype=data.dtype)
            c0 = _creation.zeros(*c_shape, dtype=data.dtype) if is_lstm else None
        else:
            if is_lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise RuntimeError("LSTM expects hx as a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                if isinstance(hx, (tuple, list)):
                    raise RuntimeError(f"{type(self).__name__} expects hx as a Tensor, got a "
                                       "tuple")
                h0, c0 = hx, None
            if not batched:
                if h0.ndim != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but "
                                       f"got {h0.ndim}-D tensor")
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            elif h0.ndim != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                   f"{h0.ndim}-D tensor")
            if sorted_indices is not None:
                h0 = h0.index_select(1, sorted_indices)
                c0 = c0.index_select(1, sorted_indices) if c0 is not None else None
            self._check_hidden(h0, h_shape)
            if c0 is not None:
                self._check_hidden(c0, c_shape, "cell")
        out, h_n, c_n = rnn_ops.run_layers(self.mode, data, batch_sizes, h0, c0,
                                           self._weights_per_direction(), self.num_layers,
                                           self.bidirectional, self.dropout, self.training)
        if unsorted_indices is not None:
            h_n = h_n.index_select(1, unsorted_indices)
            c_n = c_n.index_select(1, unsorted_indices) if c_n is not None else None
        if packed:
            output = PackedSequence(out, input.batch_sizes, sorted_indices, unsorted_indices)
        else:
            output = out.reshape(len(batch_sizes), n, D * real_hidden)
            if self.batch_first and batched:
                output = output.transpose(0, 1)
            if not batched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if c_n is not None else None
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)


class RNN(RNNBase):
    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        # positional arguments as PyTorch's: input_size, hidden_size, num_layers,
        # nonlinearity, bias, batch_first, dropout, bidirectional
        names = ["input_size", "hidden_size", "num_layers", "nonlinearity", "bias",
                 "batch_first", "dropout", "bidirectional"]
        kwargs.update(zip(names, args))
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", **kwargs)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(_creation.empty(num_chunks * hidden_size, input_size,
                                                   dtype=dtype))
        self.weight_hh = Parameter(_creation.empty(num_chunks * hidden_size, hidden_size,
                                                   dtype=dtype))
        if bias:
            self.bias_ih = Parameter(_creation.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(_creation.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, hx, name):
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D "
                             "instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        return x, batched

    def _zeros(self, x):
        return _creation.zeros(x.shape[0], self.hidden_size, dtype=x.dtype)

    def _state(self, h, x, batched, name):
        if h is None:
            return self._zeros(x)
        if (h.ndim == 2) != batched:
            raise RuntimeError(f"{name}: Expected hidden to be {2 if batched else 1}D, got "
                               f"{h.ndim}D instead")
        h = h if batched else h.unsqueeze(0)
        if tuple(h.shape) != (x.shape[0], self.hidden_size):
            raise RuntimeError(f"hidden{tuple(h.shape)} has inconsistent size: expected "
                               f"{(x.shape[0], self.hidden_size)}")
        return h


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx, "RNNCell")
        h = self._state(hx, x, batched, "RNNCell")
        cell = rnn_ops.rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_ops.rnn_relu_cell
        out = cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, dtype=dtype)

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx, "LSTMCell")
        if hx is None:
            h = c = self._zeros(x)
        else:
            h = self._state(hx[0], x, batched, "LSTMCell")
            c = self._state(hx[1], x, batched, "LSTMCell")
        h, c = rnn_ops.lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                                 self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, dtype=dtype)

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx, "GRUCell")
        h = self._state(hx, x, batched, "GRUCell")
        out = rnn_ops.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih,
                               self.bias_hh)
        return out if batched else out.squeeze(0)

