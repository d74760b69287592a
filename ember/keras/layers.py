"""Keras layer names over ember's engine: ``Dense(units, activation=..., input_shape=...)``,
``Conv2D`` (channels-last input, as Keras), ``MaxPooling2D``, ``Flatten``, ``Dropout``,
``BatchNormalization``, ``Activation``, ``Input``.

A layer creates its weights when it first learns its input shape (from ``input_shape`` or the
first batch), as Keras does. Keras's default initialisers are used: Glorot-uniform kernels and
zero biases. ``layer.trainable = False`` freezes its weights (transfer learning).
"""
import numpy as np

from .. import nn
from ..autograd import no_grad
from ..nn import functional as F
from ..nn import init
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor

_ACTIVATIONS = {
    None: None, "linear": None,
    "relu": F.relu, "sigmoid": F.sigmoid, "tanh": F.tanh, "elu": F.elu, "gelu": F.gelu,
    "softplus": F.softplus, "leaky_relu": F.leaky_relu,
    "softmax": lambda x: F.softmax(x, dim=-1), "log_softmax": lambda x: F.log_softmax(x, dim=-1),
}


def _activation(a):
    if callable(a):
        return a
    if a not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {a!r}; known: "
                         f"{sorted(k for k in _ACTIVATIONS if k)}")
    return _ACTIVATIONS[a]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


_name_counts = {}


def _default_name(cls):
    """Keras's automatic names: dense, dense_1, dense_2, ... per layer class."""
    base = "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(cls.__name__)).replace("2_d", "2d")
    k = _name_counts.get(base, 0)
    _name_counts[base] = k + 1
    return base if k == 0 else f"{base}_{k}"


class Layer(Module):
    """Base of the Keras-named layers: lazy ``build(input_shape)``, ``trainable``, ``name``,
    and ``get_weights/set_weights`` in Keras's array layouts."""

    def __init__(self, input_shape=None, name=None):
        super().__init__()
        self.__dict__["built"] = False
        self.__dict__["input_shape"] = tuple(input_shape) if input_shape is not None else None
        self.__dict__["name"] = name or _default_name(type(self))
        self.__dict__["_trainable"] = True

    def build(self, input_shape):
        """Create weights for inputs of ``input_shape`` (batch dim excluded)."""

    def __call__(self, x, *args, **kwargs):
        if not self.built:
            self.build(tuple(x.shape[1:]))
            self.__dict__["built"] = True
            if isinstance(x, Tensor) and x.device.type != "cpu":
                self.to(x.device)  # weights are made where the inputs are
            self.train(self.training)  # sub-modules made by build follow this layer's mode
            if not self._trainable:
                self.requires_grad_(False)
        try:
            return super().__call__(x, *args, **kwargs)
        except ValueError as e:
            if str(e).startswith("layer '"):
                raise
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}): {e}") from None

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self.__dict__["_trainable"] = bool(value)
        self.requires_grad_(bool(value))

    @property
    def weights(self):
        return list(self.parameters())

    def _to_keras(self, name, array):
        """ember's layout -> Keras's for one weight (overridden where they differ)."""
        return array

    def _from_keras(self, name, array):
        return array

    def get_weights(self):
        """Weights as NumPy arrays in Keras's layouts (Dense kernel (in, units); Conv2D kernel
        (kh, kw, in, filters)), in Keras's order (kernel, bias, ...)."""
        return [self._to_keras(n, p.data).copy() for n, p in self.named_parameters()]

    def set_weights(self, weights):
        """Set weights from NumPy arrays in Keras's layouts (as ``get_weights`` returns)."""
        params = list(self.named_parameters())
        if len(weights) != len(params):
            raise ValueError(f"{self.name}: set_weights got {len(weights)} arrays, the layer has "
                             f"{len(params)} weights")
        for (n, p), w in zip(params, weights):
            a = self._from_keras(n, np.asarray(w, p.data.dtype))
            if a.shape != p.data.shape:
                raise ValueError(f"{self.name}: weight {n!r} needs shape "
                                 f"{self._to_keras(n, p.data).shape}, got {np.shape(w)}")
            with no_grad():
                p.copy_(a)

    def count_params(self):
        return sum(p.data.size for p in self.parameters())


class Dense(Layer):
    """``activation(x @ kernel + bias)``; kernel Glorot-uniform, bias zeros.
    The kernel is stored as ``weight`` of shape (units, in) like nn.Linear, so the same
    fused linear primitive runs."""

    def __init__(self, units, activation=None, use_bias=True, input_shape=None, input_dim=None,
                 name=None):
        if input_dim is not None:
            input_shape = (input_dim,)
        super().__init__(input_shape, name)
        self.__dict__.update(units=int(units), use_bias=use_bias,
                             activation_name=activation)
        self.__dict__["activation"] = _activation(activation)
        if self.input_shape is not None:
            self.build(self.input_shape)
            self.__dict__["built"] = True

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.weight = Parameter(np.empty((self.units, fan_in), np.float32))
        init.xavier_uniform_(self.weight)
        self.bias = Parameter(np.zeros(self.units, np.float32)) if self.use_bias else None

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        return y if self.activation is None else self.activation(y)

    def _to_keras(self, name, array):
        return array.T if name == "weight" else array

    def _from_keras(self, name, array):
        return array.T if name == "weight" else array

    def extra_repr(self):
        return f"units={self.units}, activation={self.activation_name}"


class Conv2D(Layer):
    """2-D convolution on channels-last input (N, H, W, C), as Keras. ``padding`` is 'valid' or
    'same'; kernel Glorot-uniform (fans from kernel size and channels), bias zeros."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None,
                 use_bias=True, dilation_rate=(1, 1), input_shape=None, name=None):
        super().__init__(input_shape, name)
        padding = padding.lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv2D: padding must be 'valid' or 'same', got {padding!r}")
        self.__dict__.update(filters=int(filters), kernel_size=_pair(kernel_size),
                             strides=_pair(strides), padding=padding, use_bias=use_bias,
                             dilation_rate=_pair(dilation_rate), activation_name=activation)
        self.__dict__["activation"] = _activation(activation)
        if self.input_shape is not None:
            self.build(self.input_shape)
            self.__dict__["built"] = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D expects inputs (H, W, C) per sample, got {input_shape}")
        cin = int(input_shape[-1])
        self.weight = Parameter(np.empty((self.filters, cin) + self.kernel_size, np.float32))
        init.xavier_uniform_(self.weight)
        self.bias = Parameter(np.zeros(self.filters, np.float32)) if self.use_bias else None

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"Conv2D: expected input (N, H, W, C), got shape {tuple(x.shape)}")
        if self.padding == "same" and self.strides != (1, 1):
            pad = _same_padding(x.shape[1:3], self.kernel_size, self.strides, self.dilation_rate)
            y = F.conv2d(F.pad(x.permute(0, 3, 1, 2), pad), self.weight, self.bias,
                         stride=self.strides, padding=0, dilation=self.dilation_rate)
        else:
            y = F.conv2d(x.permute(0, 3, 1, 2), self.weight, self.bias, stride=self.strides,
                         padding=self.padding, dilation=self.dilation_rate)
        y = y.permute(0, 2, 3, 1)
        return y if self.activation is None else self.activation(y)

    def _to_keras(self, name, array):  # (out, in, kh, kw) -> (kh, kw, in, out)
        return array.transpose(2, 3, 1, 0) if name == "weight" else array

    def _from_keras(self, name, array):
        return array.transpose(3, 2, 0, 1) if name == "weight" else array

    def extra_repr(self):
        return (f"filters={self.filters}, kernel_size={self.kernel_size}, strides={self.strides}, "
                f"padding={self.padding!r}, activation={self.activation_name}")


def _same_padding(hw, kernel, strides, dilation):
    """TensorFlow's 'same': output = ceil(in / stride), extra padding at the end."""
    pads = []
    for n, k, s, d in zip(hw, kernel, strides, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    (t, b), (l, r) = pads
    return (l, r, t, b)


class MaxPooling2D(Layer):
    """Max pooling on channels-last input; ``strides`` default to ``pool_size``."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", name=None):
        super().__init__(None, name)
        if padding != "valid":
            raise ValueError("MaxPooling2D: only padding='valid' is supported")
        self.__dict__.update(pool_size=_pair(pool_size),
                             strides=_pair(strides) if strides is not None else _pair(pool_size))

    def forward(self, x):
        y = F.max_pool2d(x.permute(0, 3, 1, 2), self.pool_size, self.strides)
        return y.permute(0, 2, 3, 1)

    def extra_repr(self):
        return f"pool_size={self.pool_size}, strides={self.strides}"


class AveragePooling2D(MaxPooling2D):
    """Average pooling on channels-last input."""

    def forward(self, x):
        y = F.avg_pool2d(x.permute(0, 3, 1, 2), self.pool_size, self.strides)
        return y.permute(0, 2, 3, 1)


class Flatten(Layer):
    """Flatten every dim but the batch dim (in channels-last order, as Keras)."""

    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class Dropout(Layer):
    """Inverted dropout with drop probability ``rate`` during fit; identity in predict/evaluate."""

    def __init__(self, rate, name=None):
        super().__init__(None, name)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.__dict__["rate"] = float(rate)

    def forward(self, x):
        return F.dropout(x, self.rate, self.training)

    def extra_repr(self):
        return f"rate={self.rate}"


class Activation(Layer):
    def __init__(self, activation, name=None):
        super().__init__(None, name)
        self.__dict__["activation_name"] = activation
        self.__dict__["activation"] = _activation(activation)

    def forward(self, x):
        return x if self.activation is None else self.activation(x)

    def extra_repr(self):
        return f"{self.activation_name}"


class BatchNormalization(Layer):
    """Batch normalisation over the last axis (channels-last). Keras's ``momentum`` is the
    weight of the old moving average: moving = momentum * moving + (1 - momentum) * batch."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, name=None):
        super().__init__(None, name)
        if axis != -1:
            raise ValueError("BatchNormalization: only axis=-1 (channels-last) is supported")
        self.__dict__.update(momentum=momentum, epsilon=epsilon, center=center, scale=scale)

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.bn = nn.BatchNorm1d(c, eps=self.epsilon, momentum=1 - self.momentum,
                                 affine=True)
        if not self.scale:
            self.bn.weight.requires_grad_(False)
        if not self.center:
            self.bn.bias.requires_grad_(False)

    def forward(self, x):
        # Keras runs a frozen BatchNormalization in inference mode: moving statistics fixed
        self.bn.train(self.training and self._trainable)
        if x.ndim == 2:
            return self.bn(x)
        # channels-last (N, ..., C): per-channel statistics over every other axis = BatchNorm1d
        # on the (N * ..., C) view
        c = x.shape[-1]
        return self.bn(x.reshape(-1, c)).reshape(x.shape)


class Input:
    """``keras.Input(shape=(784,))``: declares the input shape of a Sequential model."""

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name


InputLayer = Input

# sequence layers live in their own module (it imports Layer from here, hence at the end)
from .recurrent import (GRU, LSTM, Bidirectional, Conv1D, Embedding,  # noqa: E402,F401
                        GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D, SimpleRNN,
                        TimeDistributed)
from .text_vectorization import TextVectorization  # noqa: E402,F401
