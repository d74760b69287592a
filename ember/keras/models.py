"""``keras.models.Sequential``: a stack of layers with compile / fit / evaluate / predict."""
import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ..train.model import Sequential as _Sequential
from .layers import Input


class Sequential(_Sequential):
    """``Sequential([Dense(512, activation='relu', input_shape=(784,)), Dense(10, ...)])``.

    When the input shape is known (``input_shape=`` on the first layer, or a leading
    ``Input(shape)``), every layer is built at construction, in order, as Keras does; otherwise
    on the first batch.
    """

    def __init__(self, layers=None, name=None):
        layers = list(layers or [])
        shape = None
        if layers and isinstance(layers[0], Input):
            shape = layers.pop(0).shape
        super().__init__(*layers)
        self.__dict__["name"] = name
        if shape is None and layers:
            shape = getattr(layers[0], "input_shape", None)
        if shape is not None:
            self.build(shape)

    def add(self, layer):
        """Append a layer; the model is built as soon as its input shape is known (from an
        ``Input``, or ``input_shape=`` on the first layer)."""
        if isinstance(layer, Input):
            self.__dict__["input_shape"] = layer.shape
            return
        super().add(layer)
        if self.input_shape is None and len(self._modules) == 1:
            self.__dict__["input_shape"] = getattr(layer, "input_shape", None)
        if self.input_shape is not None:
            self.build(self.input_shape)

    def build(self, input_shape):
        """Build every layer by running one zero sample through the stack (eval mode, no grad:
        nothing is learned, no statistics move)."""
        self.__dict__["input_shape"] = tuple(input_shape)
        was = self.training
        self.eval()
        with no_grad():
            self(Tensor(np.zeros((1,) + tuple(input_shape), np.float32)))
        self.train(was)

    @property
    def layers(self):
        return list(self._modules.values())

    def get_layer(self, name=None, index=None):
        """A layer by its name (``'dense_1'``) or position."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: "
                         f"{[getattr(l, 'name', None) for l in self.layers]}")

    def get_weights(self):
        """Every layer's weights as NumPy arrays (copies), in layer order and Keras's
        layouts, as ``keras.Model.get_weights``."""
        out = []
        for layer in self.layers:
            if hasattr(layer, "get_weights"):
                out += layer.get_weights()
            else:  # a plain ember.nn module in the stack
                out += [p.data.copy() for p in layer.parameters()]
        return out

    def set_weights(self, weights):
        """Set every layer's weights from a list as :meth:`get_weights` returns. The whole list
        is checked (count and shapes) before any weight changes."""
        weights = list(weights)
        plan, i = [], 0
        for layer in self.layers:
            k = len(list(layer.parameters()))
            plan.append((layer, weights[i:i + k]))
            i += k
        if i != len(weights):
            raise ValueError(f"set_weights: got {len(weights)} arrays, the model has {i} weights "
                             f"(as get_weights returns)")
        for layer, ws in plan:  # validate all first: a bad array leaves the model unchanged
            for (n, p), w in zip(layer.named_parameters(), ws):
                a = layer._from_keras(n, np.asarray(w)) if hasattr(layer, "_from_keras") \
                    else np.asarray(w)
                if a.shape != p.data.shape:
                    want = layer._to_keras(n, p.data).shape if hasattr(layer, "_to_keras") \
                        else p.data.shape
                    raise ValueError(f"set_weights: layer {getattr(layer, 'name', '?')!r} "
                                     f"weight {n!r} needs shape {want}, got {np.shape(w)}")
        for layer, ws in plan:
            if hasattr(layer, "set_weights"):
                layer.set_weights(ws)
            else:
                with no_grad():
                    for p, w in zip(layer.parameters(), ws):
                        p.copy_(np.asarray(w, p.data.dtype))
