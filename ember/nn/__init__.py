"""Neural-network layers, activations, losses and initialisers, with PyTorch's names
(``import ember.nn as nn``, ``import ember.nn.functional as F``, ``ember.nn.init``).

Every name loads its module on first use (PEP 562): ``import ember`` binds ``ember.nn`` but
pays for layers, losses and the NN primitives only when a program touches them."""
from .._lazy import lazy as _lazy

_NAMES = {
    "activation": ("ELU", "GELU", "LeakyReLU", "LogSoftmax", "Maxout", "PReLU", "ReLU", "Sigmoid",
                   "Softmax", "Softplus", "Tanh"),
    "layers": ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "BatchNorm1d",
               "BatchNorm2d", "Conv2d", "Dropout", "Embedding", "Flatten", "LayerNorm", "Linear",
               "MaxPool2d", "Unflatten"),
    "loss": ("BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss", "MSELoss",
             "MultiMarginLoss", "NLLLoss", "SmoothL1Loss"),
    "module": ("Identity", "Module", "ModuleDict", "ModuleList", "RemovableHandle", "Sequential"),
    "parameter": ("Parameter",),
    "conv1d": ("AdaptiveAvgPool1d", "Conv1d", "MaxPool1d"),
    "rnn": ("GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "RNNBase"),
    "sync_batchnorm": ("SyncBatchNorm",),
}
_MODULES = ("functional", "init", "utils", "parallel") + tuple(_NAMES)  # parallel: DDP

__getattr__, __dir__ = _lazy(__name__, globals(), {
    **{m: "." + m for m in _MODULES},
    **{n: f".{m}:{n}" for m, names in _NAMES.items() for n in names},
})
# `from ember.nn import *` gives every public name (each loads on that first use)
__all__ = sorted(set(_MODULES).union(*_NAMES.values()))
