"""``tf.keras`` inside a TF1 graph: ``Sequential`` and ``layers.Dense`` called on graph tensors
(a placeholder) build Variables and ops, as Keras does in TensorFlow 1's graph mode.

The layer semantics are those of ``ember.keras.layers.Dense`` — weights built lazily from the
first input's last dim (or ``input_shape``), Glorot-uniform kernel, zero bias, Keras's activation
names — but the weights are graph Variables (initialised by ``global_variables_initializer``)
rather than eager Parameters, since graph tensors are not eager tensors.
"""
from __future__ import annotations

from types import SimpleNamespace

from ... import ops as _ops
from ...graph import build as _b
from ...graph.ir import Value
from . import initializers as _init
from . import nn as _nn

_ACTIVATIONS = {None: None, "linear": None, "relu": _nn.relu, "sigmoid": _nn.sigmoid,
                "tanh": _nn.tanh, "softmax": _nn.softmax, "elu": _nn.elu,
                "softplus": _nn.softplus}


def _activation(a):
    if callable(a):
        return a
    if a not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {a!r}; known: {sorted(k for k in _ACTIVATIONS if k)}")
    return _ACTIVATIONS[a]


class Layer:
    """Base: ``__call__(x)`` builds the weights on first use, inside the layer's name scope."""

    _base = "layer"

    def __init__(self, name=None, input_shape=None, trainable=True, **unused):
        self.name = name
        self.input_shape = input_shape
        self.trainable = trainable
        self.built = False
        self._weights: list = []
        self._scope = None

    def build(self, input_shape):
        pass

    def call(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x):
        x = _b.as_value(x)
        graph = x.node.graph
        with graph.as_default():
            with graph.name_scope(self._scope or self.name or self._base) as scope:
                if self._scope is None:  # later calls reuse this scope (absolute)
                    self._scope = scope
                    self.name = self.name or scope.rstrip("/").rpartition("/")[2]
                if not self.built:
                    shape = x.shape if x.shape is not None else (None,) + tuple(self.input_shape)
                    self.build(tuple(shape))
                    self.built = True
                return self.call(x)

    @property
    def variables(self):
        return list(self._weights)

    weights = trainable_weights = trainable_variables = variables


class Dense(Layer):
    """activation(x @ kernel + bias); kernel (in, units) Glorot uniform, bias zeros."""

    _base = "dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, input_dim=None, name=None, **kw):
        if input_dim is not None:
            input_shape = (input_dim,)
        super().__init__(name=name, input_shape=input_shape, **kw)
        self.units = int(units)
        self.activation = _activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)

    def build(self, input_shape):
        fan_in = input_shape[-1]
        if fan_in is None:
            raise ValueError(f"layer {self.name!r} (Dense): the last input dim must be known, got "
                             f"{input_shape}")
        if self.input_shape is not None and tuple(self.input_shape)[-1] != fan_in:
            raise ValueError(f"layer {self.name!r} (Dense): built for input_shape "
                             f"{tuple(self.input_shape)} but called on inputs of shape "
                             f"{input_shape}")
        self.kernel = _b.Variable(self.kernel_initializer((fan_in, self.units)),
                                  trainable=self.trainable, name="kernel")
        self._weights = [self.kernel]
        if self.use_bias:
            self.bias = _b.Variable(self.bias_initializer((self.units,)), trainable=self.trainable,
                                    name="bias")
            self._weights.append(self.bias)

    def call(self, x):
        out = _b.apply(_ops.MatMul, x, self.kernel, name="MatMul")
        if self.use_bias:
            out = _b.apply(_ops.Add, out, self.bias, name="BiasAdd")
        return self.activation(out) if self.activation is not None else out


class Activation(Layer):
    _base = "activation"

    def __init__(self, activation, **kw):
        super().__init__(**kw)
        self.activation = _activation(activation)

    def call(self, x):
        return self.activation(x) if self.activation is not None else x


class Sequential(Layer):
    """Layers applied in order: ``model = Sequential(); model.add(Dense(...)); y = model(x)``."""

    _base = "sequential"

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self.layers = list(layers or [])

    def add(self, layer):
        self.layers.append(layer)

    def __call__(self, x):
        x = _b.as_value(x)
        if not isinstance(x, Value):
            raise TypeError("Sequential: call it on a graph tensor (a tf.placeholder)")
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def variables(self):
        return [w for layer in self.layers for w in layer.variables]

    weights = trainable_weights = trainable_variables = variables


layers = SimpleNamespace(Dense=Dense, Activation=Activation, Layer=Layer)
models = SimpleNamespace(Sequential=Sequential)
initializers = SimpleNamespace(glorot_uniform=_init.glorot_uniform_initializer,
                               zeros=_init.zeros_initializer)
