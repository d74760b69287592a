"""Recurrent layers with PyTorch's names, semantics, parameter names and initialisation:
``RNN`` (tanh / relu), ``LSTM``, ``GRU`` and the cells ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Parameters of layer k (and ``..._reverse`` for the backward direction): ``weight_ih_l{k}``
(G*H, in), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), with G = 1 /
4 (i, f, g, o) / 3 (r, z, n), all U(-1/sqrt(H), 1/sqrt(H)); so a PyTorch ``state_dict`` loads.
Each direction of each layer is one fused primitive (``ember.ops.nn_rnn``).
"""
import math

import numpy as np

from ..functions import cat, stack
from ..ops import nn_rnn as _rnn
from ..tensor import DEFAULT_FLOAT, Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, _padded_index, _pack_rows

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _run(mode, x, state, w, mask, reverse):
    """One direction of one layer: x (T, B, I) -> (outputs (T, B, H), final state(s))."""
    T = x.shape[0]
    w_ih, w_hh, b_ih, b_hh = w
    if mode == "LSTM":
        out = _rnn.LSTMLayer.apply(x, state[0], state[1], w_ih, w_hh, b_ih, b_hh, mask,
                                   reverse=reverse)
        return out[:T], (out[T], out[T + 1])
    if mode == "GRU":
        out = _rnn.GRULayer.apply(x, state, w_ih, w_hh, b_ih, b_hh, mask, reverse=reverse)
    else:
        out = _rnn.RNNLayer.apply(x, state, w_ih, w_hh, b_ih, b_hh, mask, reverse=reverse,
                                  relu=mode == "RNN_RELU")
    return out[:T], out[T]


def _zeros(shape, like):
    return Tensor(np.zeros(shape, like.dtype))


class RNNBase(Module):
    """Shared body of RNN / LSTM / GRU.

    Input (T, B, input_size) (``batch_first``: (B, T, input_size)), unbatched (T, input_size),
    or a ``PackedSequence``. Initial state h_0 (num_layers * D, B, H) (and c_0 for the LSTM),
    zeros when omitted, D = 2 when ``bidirectional``. Returns (output, h_n) — (output, (h_n, c_n))
    for the LSTM — with output (T, B, D*H) holding both directions' h_t side by side.
    ``dropout`` is applied to the outputs of every layer but the last, in training mode.
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=None):
        super().__init__()
        name = type(self).__name__
        if hidden_size < 1 or input_size < 1 or num_layers < 1:
            raise ValueError(f"{name}: input_size ({input_size}), hidden_size ({hidden_size}) "
                             f"and num_layers ({num_layers}) must be positive")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.mode = mode
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = int(num_layers), bool(bias), batch_first
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        G = _GATES[mode]
        dt = DEFAULT_FLOAT if dtype is None else dtype
        D = 2 if bidirectional else 1
        self._flat_names = []
        for k in range(self.num_layers):
            fan_in = self.input_size if k == 0 else self.hidden_size * D
            for sfx in ("", "_reverse")[:D]:
                names = [f"weight_ih_l{k}{sfx}", f"weight_hh_l{k}{sfx}"]
                setattr(self, names[0], Parameter(np.empty((G * hidden_size, fan_in), dt)))
                setattr(self, names[1], Parameter(np.empty((G * hidden_size, hidden_size), dt)))
                if bias:
                    names += [f"bias_ih_l{k}{sfx}", f"bias_hh_l{k}{sfx}"]
                    setattr(self, names[2], Parameter(np.empty(G * hidden_size, dt)))
                    setattr(self, names[3], Parameter(np.empty(G * hidden_size, dt)))
                self._flat_names.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, i):
        names = self._flat_names[i]
        w = [getattr(self, n) for n in names]
        return w if self.bias else w + [None, None]

    def _check_state(self, h, B, what):
        D = 2 if self.bidirectional else 1
        want = (self.num_layers * D, B, self.hidden_size)
        if tuple(h.shape) != want:
            raise ValueError(f"{self._get_name()}: {what} must have shape {want} "
                             f"(num_layers * directions, batch, hidden_size), got "
                             f"{tuple(h.shape)}")

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        mask = None
        unbatched = False
        if packed:
            grid, lens = _padded_index(input)
            data = input.data
            x = cat([data, _zeros((1,) + tuple(data.shape[1:]), data)], 0)[grid]
            mask = (np.arange(x.shape[0])[:, None] < lens[None, :]).astype(np.float32)
        else:
            x = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
            if x.ndim == 2:
                unbatched = True
                x = x.unsqueeze(1)
            elif x.ndim != 3:
                raise ValueError(f"{self._get_name()}: expected input (T, B, {self.input_size})"
                                 f"{' (batch_first: (B, T, ...))' if self.batch_first else ''}"
                                 f", got shape {tuple(x.shape)}")
            elif self.batch_first:
                x = x.permute(1, 0, 2)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{self._get_name()}: input has {x.shape[-1]} features (shape "
                             f"{tuple(x.shape)}) but input_size is {self.input_size}")
        B = x.shape[1]
        D = 2 if self.bidirectional else 1
        h0 = c0 = None
        if hx is not None:
            if self.mode == "LSTM":
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ValueError("LSTM: hx must be a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                h0 = hx
            if unbatched:
                h0 = h0.unsqueeze(1)
                c0 = None if c0 is None else c0.unsqueeze(1)
            self._check_state(h0, B, "h_0")
            if c0 is not None:
                self._check_state(c0, B, "c_0")
        shape = (B, self.hidden_size)
        hn, cn = [], []
        for k in range(self.num_layers):
            outs = []
            for d in range(D):
                i = k * D + d
                h = _zeros(shape, x) if h0 is None else h0[i]
                state = (h, _zeros(shape, x) if c0 is None else c0[i]) \
                    if self.mode == "LSTM" else h
                y, s = _run(self.mode, x, state, self._weights(i), mask, reverse=d == 1)
                outs.append(y)
                if self.mode == "LSTM":
                    hn.append(s[0])
                    cn.append(s[1])
                else:
                    hn.append(s)
            x = outs[0] if D == 1 else cat(outs, -1)
            if self.dropout and self.training and k < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = stack(hn, 0)
        state = (h_n, stack(cn, 0)) if self.mode == "LSTM" else h_n
        if packed:
            t_idx, b_idx, _ = _pack_rows(lens, np.arange(B) if input.sorted_indices is None
                                         else np.asarray(input.sorted_indices))
            return PackedSequence(x[t_idx, b_idx], input.batch_sizes, input.sorted_indices,
                                  input.unsorted_indices), state
        if unbatched:
            x = x.squeeze(1)
            state = tuple(s.squeeze(1) for s in state) if self.mode == "LSTM" else \
                state.squeeze(1)
        elif self.batch_first:
            x = x.permute(1, 0, 2)
        return x, state

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu
    (``nonlinearity``). Returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)


class LSTM(RNNBase):
    """LSTM (gate rows i, f, g, o): c_t = f c_{t-1} + i g, h_t = o tanh(c_t), with i, f, o
    sigmoids and g a tanh of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh.
    Returns (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)


class GRU(RNNBase):
    """GRU (gate rows r, z, n): n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h_t = (1 - z) n + z h_{t-1}. Returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)


class _CellBase(Module):
    """One time step: input (B, input_size) or (input_size,), state(s) (B, H)."""

    mode = None

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__()
        G = _GATES[self.mode]
        dt = DEFAULT_FLOAT if dtype is None else dtype
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        self.weight_ih = Parameter(np.empty((G * hidden_size, input_size), dt))
        self.weight_hh = Parameter(np.empty((G * hidden_size, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.empty(G * hidden_size, dt))
            self.bias_hh = Parameter(np.empty(G * hidden_size, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _step(self, x, state):
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        one = x.ndim == 1
        if one:
            x = x.unsqueeze(0)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{self._get_name()}: expected input (B, {self.input_size}), got "
                             f"shape {tuple(x.shape)}")
        shape = (x.shape[0], self.hidden_size)
        if state is None:
            state = (_zeros(shape, x), _zeros(shape, x)) if self.mode == "LSTM" else \
                _zeros(shape, x)
        elif one:
            state = tuple(s.unsqueeze(0) for s in state) if self.mode == "LSTM" else \
                state.unsqueeze(0)
        for s in (state if self.mode == "LSTM" else (state,)):
            if tuple(s.shape) != shape:
                raise ValueError(f"{self._get_name()}: state must have shape {shape}, got "
                                 f"{tuple(s.shape)}")
        w = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        _, s = _run(self.mode, x.unsqueeze(0), state, w, None, False)
        if one:
            s = tuple(t.squeeze(0) for t in s) if self.mode == "LSTM" else s.squeeze(0)
        return s

    def forward(self, input, hx=None):
        return self._step(input, hx)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(_CellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu. Returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, dtype)


class LSTMCell(_CellBase):
    """One LSTM step; returns (h', c')."""
    mode = "LSTM"


class GRUCell(_CellBase):
    """One GRU step; returns h'."""
    mode = "GRU"
