"""Keras's sequence layers over ember's fused recurrent primitives: ``Embedding`` (``mask_zero``),
``SimpleRNN``, ``LSTM``, ``GRU``, ``Bidirectional``, ``GlobalAveragePooling1D``,
``GlobalMaxPooling1D``, ``Conv1D``, ``MaxPooling1D``, ``TimeDistributed``.

Inputs are batch-major (B, T, features), as Keras. Weights are kept in Keras's layouts and
names (``kernel`` (in, G*units), ``recurrent_kernel`` (units, G*units), ``bias``), with Keras's
gate orders (LSTM i, f, c, o; GRU z, r, h, ``reset_after=True``) and initialisers (glorot-uniform
kernel, orthogonal recurrent kernel, zero bias, forget-gate bias 1 with ``unit_forget_bias``).

Masks: ``Embedding(mask_zero=True)`` marks index 0 as padding. The mask travels with its output
tensor (and through dropout / activations applied to it) to the next recurrent layer, which then
carries its state over masked steps and outputs zeros there; ``return_sequences=True`` passes the
mask on; the global poolings average / take the max over unmasked steps only.
"""
import weakref

import numpy as np

from ..functions import cat, where
from ..nn import functional as F
from ..nn import init
from ..nn.conv1d import conv1d, max_pool1d
from .. import random as _random
from ..ops import nn_layers as _layers_ops
from ..ops import nn_rnn as _rnn
from ..tensor import Tensor
from ..nn.parameter import Parameter
from .layers import Layer, _activation

# ---- masks: id(tensor) -> (weak reference, (B, T) bool mask) ----------------------------
_MASKS = {}
# ops through which a mask still describes the output (same (B, T) positions)
_MASK_PASSES = {"Dropout", "Relu", "Tanh", "Sigmoid", "Mul", "Cast"}


def set_mask(t, mask):
    """Attach a (B, T) boolean mask to tensor ``t`` (None removes it)."""
    k = id(t)
    if mask is None:
        _MASKS.pop(k, None)
        return t
    _MASKS[k] = (weakref.ref(t, lambda _, k=k: _MASKS.pop(k, None)), np.asarray(mask, bool))
    return t


def get_mask(t):
    """The mask attached to ``t`` (or to the tensor an elementwise op such as dropout made it
    from), else None."""
    for _ in range(4):
        hit = _MASKS.get(id(t))
        if hit is not None and hit[0]() is t:
            return hit[1]
        ctx = getattr(t, "_ctx", None)
        if ctx is None or type(ctx).__name__ not in _MASK_PASSES or not ctx.parents:
            return None
        t = ctx.parents[0]
        if not isinstance(t, Tensor):
            return None
    return None


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


class Embedding(Layer):
    """Integer indices (B, T) -> vectors (B, T, output_dim); ``embeddings`` U(-0.05, 0.05)
    (Keras's 'uniform'). ``mask_zero=True``: index 0 is padding and masks its steps
    (``input_dim`` must then count it)."""

    def __init__(self, input_dim, output_dim, mask_zero=False, input_length=None,
                 embeddings_initializer="uniform", input_shape=None, name=None):
        if input_shape is None and input_length is not None:
            input_shape = (input_length,)
        super().__init__(input_shape, name)
        if embeddings_initializer not in ("uniform", "random_uniform"):
            raise ValueError("Embedding: only embeddings_initializer='uniform' is supported")
        self.__dict__.update(input_dim=int(input_dim), output_dim=int(output_dim),
                             mask_zero=bool(mask_zero))
        self.embeddings = Parameter(np.empty((self.input_dim, self.output_dim), np.float32))
        init.uniform_(self.embeddings, -0.05, 0.05)
        self.__dict__["built"] = True

    def forward(self, x):
        idx = x.data if isinstance(x, Tensor) else np.asarray(x)
        if idx.dtype.kind == "f":
            # Keras casts float batches to integers; clipped into the table so the float
            # probes of Sequential.build / summary() run (integer indices are checked below)
            idx = np.clip(idx.astype(np.int64), 0, self.input_dim - 1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.input_dim):
            bad = int(idx.max()) if idx.max() >= self.input_dim else int(idx.min())
            raise ValueError(f"Embedding: index {bad} is out of range for "
                             f"input_dim={self.input_dim}")
        # integer tensors stay tensors, so a trace (jit, ONNX export) reads them as inputs
        y = F.embedding(x if isinstance(x, Tensor) and x.dtype.kind in "iu" else idx,
                        self.embeddings)
        return set_mask(y, idx != 0) if self.mask_zero else y

    def extra_repr(self):
        return f"{self.input_dim}, {self.output_dim}, mask_zero={self.mask_zero}"


_RNN_ACTS = ("tanh", "relu")


class _Recurrent(Layer):
    """Shared body of SimpleRNN / LSTM / GRU: Keras's options, weights in Keras's layouts, and
    one fused primitive over the whole sequence."""

    gates = 1
    n_states = 1

    def __init__(self, units, activation="tanh", use_bias=True, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, dropout=0.0,
                 recurrent_dropout=0.0, unroll=False, input_shape=None, name=None, **extra):
        super().__init__(input_shape, name)
        kind = type(self).__name__
        if stateful:
            raise NotImplementedError(f"{kind}: stateful=True is not supported")
        if recurrent_dropout:
            raise NotImplementedError(f"{kind}: recurrent_dropout is not supported (use "
                                      "dropout, or a Dropout layer between recurrent layers)")
        if activation not in _RNN_ACTS:
            raise ValueError(f"{kind}: activation must be one of {_RNN_ACTS}, got "
                             f"{activation!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"{kind}: dropout must be in [0, 1), got {dropout}")
        self.__dict__.update(units=int(units), activation_name=activation, use_bias=use_bias,
                             return_sequences=bool(return_sequences),
                             return_state=bool(return_state), go_backwards=bool(go_backwards),
                             dropout=float(dropout))
        self.__dict__["_config"] = dict(units=units, activation=activation, use_bias=use_bias,
                                        return_sequences=return_sequences,
                                        return_state=return_state, go_backwards=go_backwards,
                                        dropout=dropout, **extra)
        if self.input_shape is not None:
            self.build(self.input_shape)
            self.__dict__["built"] = True

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__} expects inputs (timesteps, features) per "
                             f"sample, got {input_shape}")
        n, u, G = int(input_shape[-1]), self.units, self.gates
        self.kernel = Parameter(np.empty((n, G * u), np.float32))
        self.recurrent_kernel = Parameter(np.empty((u, G * u), np.float32))
        init.xavier_uniform_(self.kernel)
        init.orthogonal_(self.recurrent_kernel)
        if self.use_bias:
            self.bias = Parameter(self._initial_bias())
        else:
            self.register_parameter("bias", None)

    def _initial_bias(self):
        return np.zeros(self.gates * self.units, np.float32)

    def _torch_weights(self):
        """(w_ih, w_hh, b_ih, b_hh) in the primitive's (PyTorch's) layout and gate order."""
        return self.kernel.transpose(0, 1), self.recurrent_kernel.transpose(0, 1), self.bias, None

    def _primitive(self, x, states, w, mask):
        T = x.shape[0]
        out = _rnn.RNNLayer.apply(x, states[0], *w, mask, reverse=self.go_backwards,
                                  relu=self.activation_name == "relu")
        return out[:T], [out[T]]

    def forward(self, x, mask=None, initial_state=None, training=None):
        x = _as_tensor(x)
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__}: expected input (batch, timesteps, "
                             f"features), got shape {tuple(x.shape)}")
        if mask is None:
            mask = get_mask(x)
        B = x.shape[0]
        if initial_state is None:
            states = [Tensor(np.zeros((B, self.units), x.dtype)) for _ in range(self.n_states)]
        else:
            states = [_as_tensor(s) for s in (initial_state if isinstance(initial_state,
                                                                           (list, tuple))
                                              else [initial_state])]
            if len(states) != self.n_states or any(tuple(s.shape) != (B, self.units)
                                                   for s in states):
                raise ValueError(f"{type(self).__name__}: initial_state must be "
                                 f"{self.n_states} tensor(s) of shape {(B, self.units)}, got "
                                 f"{[tuple(s.shape) for s in states]}")
        if self.dropout and self.training:
            # Keras drops the same input features at every time step of a sequence
            keep = _random.get_generator().random((B, 1, x.shape[2]), dtype=np.float32) >= \
                self.dropout
            mask_in = keep.astype(x.dtype) * np.asarray(1 / (1 - self.dropout), x.dtype)
            x = _layers_ops.Dropout.apply(x, mask=mask_in)
        m = None if mask is None else np.asarray(mask, np.float32).T
        ys, finals = self._primitive(x.permute(1, 0, 2), states, self._torch_weights(), m)
        if self.return_sequences:
            y = ys.permute(1, 0, 2)
            if self.go_backwards:          # Keras: outputs in the order they were computed
                y = y[:, ::-1]
            if mask is not None:
                set_mask(y, mask[:, ::-1] if self.go_backwards else mask)
        else:
            y = finals[0]
        return [y] + finals if self.return_state else y

    def extra_repr(self):
        return (f"units={self.units}, return_sequences={self.return_sequences}"
                + (", go_backwards=True" if self.go_backwards else ""))


class SimpleRNN(_Recurrent):
    """h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias), activation tanh or
    relu."""


class LSTM(_Recurrent):
    """Keras's LSTM (gate columns i, f, c, o): z = x_t kernel + h_{t-1} recurrent_kernel + bias;
    c_t = sig(z_f) c_{t-1} + sig(z_i) tanh(z_c), h_t = sig(z_o) tanh(c_t). ``unit_forget_bias``
    starts the forget bias at 1. Returns h (or the sequence; plus [h, c] with return_state)."""

    gates = 4
    n_states = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, unit_forget_bias=True, **kw):
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError("LSTM: only activation='tanh', recurrent_activation='sigmoid' are "
                             "supported (the fused LSTM primitive)")
        self.__dict__["unit_forget_bias"] = bool(unit_forget_bias)
        super().__init__(units, activation, use_bias, unit_forget_bias=unit_forget_bias, **kw)

    def _initial_bias(self):
        b = np.zeros(4 * self.units, np.float32)
        if self.unit_forget_bias:
            b[self.units:2 * self.units] = 1.0
        return b

    def _primitive(self, x, states, w, mask):
        T = x.shape[0]
        out = _rnn.LSTMLayer.apply(x, states[0], states[1], *w, mask, reverse=self.go_backwards)
        return out[:T], [out[T], out[T + 1]]


class GRU(_Recurrent):
    """Keras's GRU with ``reset_after=True`` (gate columns z, r, h; bias (2, 3 units): input
    and recurrent): z, r = sig(x W_z + b_z + h U_z + c_z), sig(...);
    hh = tanh(x W_h + b_h + r (h U_h + c_h)); h_t = z h_{t-1} + (1 - z) hh."""

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, reset_after=True, **kw):
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError("GRU: only activation='tanh', recurrent_activation='sigmoid' are "
                             "supported (the fused GRU primitive)")
        if not reset_after:
            raise NotImplementedError("GRU: only reset_after=True (Keras's default) is supported")
        super().__init__(units, activation, use_bias, **kw)

    def _initial_bias(self):
        return np.zeros((2, 3 * self.units), np.float32)

    def _torch_weights(self):
        u = self.units

        def rzn(w):  # Keras columns z, r, h -> PyTorch rows r, z, n
            return cat([w[..., u:2 * u], w[..., :u], w[..., 2 * u:]], -1)
        k, rk = rzn(self.kernel).transpose(0, 1), rzn(self.recurrent_kernel).transpose(0, 1)
        if self.bias is None:
            return k, rk, None, None
        b = rzn(self.bias)
        return k, rk, b[0], b[1]

    def _primitive(self, x, states, w, mask):
        T = x.shape[0]
        out = _rnn.GRULayer.apply(x, states[0], *w, mask, reverse=self.go_backwards)
        return out[:T], [out[T]]


class Bidirectional(Layer):
    """Runs ``layer`` forward and a copy of it backward over the sequence and merges the two
    (``merge_mode`` 'concat', 'sum', 'mul', 'ave' or None for a list). With return_sequences the
    backward outputs are put back in time order before merging, as Keras."""

    def __init__(self, layer, merge_mode="concat", backward_layer=None, input_shape=None,
                 name=None):
        super().__init__(input_shape, name)
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional: expected a SimpleRNN/LSTM/GRU layer, got "
                            f"{type(layer).__name__}")
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Bidirectional: unknown merge_mode {merge_mode!r}")
        self.__dict__["merge_mode"] = merge_mode
        self.forward_layer = layer
        if backward_layer is None:
            cfg = dict(layer._config, go_backwards=not layer.go_backwards)
            backward_layer = type(layer)(**cfg)
        self.backward_layer = backward_layer
        if self.input_shape is not None:
            self.build(self.input_shape)
            self.__dict__["built"] = True

    def build(self, input_shape):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(tuple(input_shape))
                sub.__dict__["built"] = True

    def forward(self, x, mask=None, initial_state=None):
        x = _as_tensor(x)
        if mask is None:
            mask = get_mask(x)
        f_init = b_init = None
        if initial_state is not None:
            n = len(initial_state) // 2
            f_init, b_init = initial_state[:n], initial_state[n:]
        fo = self.forward_layer(x, mask=mask, initial_state=f_init)
        bo = self.backward_layer(x, mask=mask, initial_state=b_init)
        f_states = b_states = []
        if self.forward_layer.return_state:
            fo, f_states = fo[0], fo[1:]
            bo, b_states = bo[0], bo[1:]
        if self.forward_layer.return_sequences:
            bo = bo[:, ::-1]
        mode = self.merge_mode
        if mode == "concat":
            y = cat([fo, bo], -1)
        elif mode == "sum":
            y = fo + bo
        elif mode == "mul":
            y = fo * bo
        elif mode == "ave":
            y = (fo + bo) * 0.5
        else:
            y = [fo, bo]
        if mask is not None and self.forward_layer.return_sequences and mode is not None:
            set_mask(y, mask)
        if self.forward_layer.return_state:
            return (y if isinstance(y, list) else [y]) + list(f_states) + list(b_states)
        return y

    def extra_repr(self):
        return f"{type(self.forward_layer).__name__}, merge_mode={self.merge_mode!r}"


def _pool_mask(x, mask):
    if mask is None:
        mask = get_mask(x)
    if mask is not None and tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not match input "
                         f"{tuple(x.shape)} (batch, steps)")
    return mask


class GlobalAveragePooling1D(Layer):
    """Mean over the time axis (B, T, C) -> (B, C); with a mask, over unmasked steps."""

    def forward(self, x, mask=None):
        x = _as_tensor(x)
        if x.ndim != 3:
            raise ValueError(f"GlobalAveragePooling1D: expected (batch, steps, channels), got "
                             f"{tuple(x.shape)}")
        mask = _pool_mask(x, mask)
        if mask is None:
            return x.mean(1)
        m = mask.astype(x.dtype)[:, :, None]
        return (x * Tensor(m)).sum(1) / Tensor(np.maximum(m.sum(1), 1))


class GlobalMaxPooling1D(Layer):
    """Max over the time axis (B, T, C) -> (B, C); with a mask, over unmasked steps."""

    def forward(self, x, mask=None):
        x = _as_tensor(x)
        if x.ndim != 3:
            raise ValueError(f"GlobalMaxPooling1D: expected (batch, steps, channels), got "
                             f"{tuple(x.shape)}")
        mask = _pool_mask(x, mask)
        if mask is None:
            return x.amax(1)
        fill = Tensor(np.full(x.shape, np.finfo(x.dtype).min, x.dtype))
        return where(np.broadcast_to(mask[:, :, None], x.shape), x, fill).amax(1)


def _same_pad_1d(n, k, s, d):
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


class Conv1D(Layer):
    """1-D convolution on channels-last input (B, T, C) -> (B, T', filters); ``padding``
    'valid', 'same' (TensorFlow's: output ceil(T / stride)) or 'causal' (left padding only).
    Kernel Glorot-uniform in Keras's layout (kernel_size, in, filters), bias zeros."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
                 activation=None, use_bias=True, input_shape=None, name=None):
        super().__init__(input_shape, name)
        padding = padding.lower()
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"Conv1D: padding must be 'valid', 'same' or 'causal', got "
                             f"{padding!r}")
        one = (lambda v: int(v[0]) if isinstance(v, (tuple, list)) else int(v))
        self.__dict__.update(filters=int(filters), kernel_size=one(kernel_size),
                             strides=one(strides), padding=padding,
                             dilation_rate=one(dilation_rate), use_bias=use_bias,
                             activation_name=activation)
        self.__dict__["activation"] = _activation(activation)
        if self.input_shape is not None:
            self.build(self.input_shape)
            self.__dict__["built"] = True

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"Conv1D expects inputs (steps, channels) per sample, got "
                             f"{input_shape}")
        cin = int(input_shape[-1])
        # Keras's Glorot fans: fan_in = k * in, fan_out = k * filters
        limit = float(np.sqrt(6.0 / (self.kernel_size * (cin + self.filters))))
        self.weight = Parameter(np.empty((self.filters, cin, self.kernel_size), np.float32))
        init.uniform_(self.weight, -limit, limit)
        self.bias = Parameter(np.zeros(self.filters, np.float32)) if self.use_bias else None

    def forward(self, x):
        x = _as_tensor(x)
        if x.ndim != 3:
            raise ValueError(f"Conv1D: expected input (batch, steps, channels), got shape "
                             f"{tuple(x.shape)}")
        k, s, d = self.kernel_size, self.strides, self.dilation_rate
        xc = x.permute(0, 2, 1)
        if self.padding == "causal":
            xc = F.pad(xc, (d * (k - 1), 0))
        elif self.padding == "same":
            xc = F.pad(xc, _same_pad_1d(x.shape[1], k, s, d))
        y = conv1d(xc, self.weight, self.bias, s, 0, d).permute(0, 2, 1)
        return y if self.activation is None else self.activation(y)

    def _to_keras(self, name, array):  # (filters, in, k) -> (k, in, filters)
        return array.transpose(2, 1, 0) if name == "weight" else array

    def _from_keras(self, name, array):
        return array.transpose(2, 1, 0) if name == "weight" else array

    def extra_repr(self):
        return (f"filters={self.filters}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, padding={self.padding!r}")


class MaxPooling1D(Layer):
    """Max pooling over steps of channels-last input; ``strides`` default to ``pool_size``;
    padding 'valid' or 'same'."""

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None):
        super().__init__(None, name)
        if padding not in ("valid", "same"):
            raise ValueError(f"MaxPooling1D: padding must be 'valid' or 'same', got {padding!r}")
        self.__dict__.update(pool_size=int(pool_size),
                             strides=int(strides) if strides is not None else int(pool_size),
                             padding=padding)

    def forward(self, x):
        x = _as_tensor(x)
        if x.ndim != 3:
            raise ValueError(f"MaxPooling1D: expected input (batch, steps, channels), got "
                             f"{tuple(x.shape)}")
        xc = x.permute(0, 2, 1)
        if self.padding == "same":
            lo, hi = _same_pad_1d(x.shape[1], self.pool_size, self.strides, 1)
            xc = F.pad(xc, (lo, hi), value=float(np.finfo(x.dtype).min))
        return max_pool1d(xc, self.pool_size, self.strides).permute(0, 2, 1)

    def extra_repr(self):
        return f"pool_size={self.pool_size}, strides={self.strides}"


class TimeDistributed(Layer):
    """Apply ``layer`` to every time step: (B, T, ...) -> (B, T, ...'), one call on the
    (B*T, ...) batch. The mask, if any, is passed on."""

    def __init__(self, layer, input_shape=None, name=None):
        super().__init__(input_shape, name)
        self.layer = layer

    def forward(self, x):
        x = _as_tensor(x)
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed: expected input (batch, steps, ...), got shape "
                             f"{tuple(x.shape)}")
        B, T = x.shape[:2]
        y = self.layer(x.reshape((B * T,) + tuple(x.shape[2:])))
        y = y.reshape((B, T) + tuple(y.shape[1:]))
        mask = get_mask(x)
        return set_mask(y, mask) if mask is not None else y

    def extra_repr(self):
        return type(self.layer).__name__


__all__ = ["Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "GlobalAveragePooling1D",
           "GlobalMaxPooling1D", "Conv1D", "MaxPooling1D", "TimeDistributed", "get_mask",
           "set_mask"]
