"""Neural-network layers, activations, losses and initialisers, with PyTorch's names
(``import ember.nn as nn``, ``import ember.nn.functional as F``, ``ember.nn.init``)."""
from . import functional, init, utils
from .activation import (ELU, GELU, LeakyReLU, LogSoftmax, Maxout, PReLU, ReLU, Sigmoid,
                         Softmax, Softplus, Tanh)
from .layers import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                     Conv2d, Dropout, Embedding, Flatten, LayerNorm, Linear, MaxPool2d,
                     Unflatten)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                   MultiMarginLoss, NLLLoss, SmoothL1Loss)
from .module import Identity, Module, ModuleDict, ModuleList, RemovableHandle, Sequential
from .parameter import Parameter
from .._lazy import lazy as _lazy

# recurrent and 1-d layers load on first use (kept out of `import ember`)
_LAZY = {
    **{n: ".conv1d:" + n for n in ("AdaptiveAvgPool1d", "Conv1d", "MaxPool1d")},
    **{n: ".rnn:" + n for n in ("GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell",
                                "RNNBase")},
    "conv1d": ".conv1d", "rnn": ".rnn",
    "SyncBatchNorm": ".sync_batchnorm:SyncBatchNorm", "sync_batchnorm": ".sync_batchnorm",
    "parallel": ".parallel",  # DistributedDataParallel
}
__getattr__, __dir__ = _lazy(__name__, globals(), _LAZY)
# `from ember.nn import *` keeps giving every public name, the lazy ones included
__all__ = sorted({n for n in globals() if not n.startswith("_")} | set(_LAZY))
