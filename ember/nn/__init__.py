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
from .conv1d import AdaptiveAvgPool1d, Conv1d, MaxPool1d
from .sync_batchnorm import SyncBatchNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, RNNBase
from . import parallel  # noqa: E402 (DistributedDataParallel; needs the layers above)
