"""Activation layers (module forms of the functions in ember.nn.functional)."""
import math

import numpy as np

from ..ops.elementwise import Relu as _ReluOp
from ..tensor import DEFAULT_FLOAT
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class ReLU(Module):
    """max(0, x)."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return _ReluOp.apply(x)  # F.relu's primitive, a frame less (the tiny step's layer)


class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x):
        return F.tanh(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """x if x > 0 else a * x with a learned: one shared a (num_parameters=1) or one per channel
    (dim 1). Default init: a = ``init`` (0.25)."""

    def __init__(self, num_parameters=1, init=0.25, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init,
                                        DEFAULT_FLOAT if dtype is None else dtype))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x if x > 0 else alpha (e^x - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softplus(Module):
    """log(1 + e^(beta x)) / beta (x itself where beta x > threshold)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """x Phi(x) (exact, via erf) or the tanh approximation (approximate='tanh')."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x_i - log sum_j exp(x_j) along ``dim`` (stable)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.log_softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Maxout(Module):
    """Maxout unit (Goodfellow et al. 2013): y_j = max_k (x W_k^T + b_k)_j over ``pieces``
    linear maps. weight (out_features * pieces, in_features), piece k of output j at row
    j * pieces + k. Default init: as nn.Linear (U(-1/sqrt(in), 1/sqrt(in)))."""

    def __init__(self, in_features, out_features, pieces=2, bias=True):
        super().__init__()
        self.in_features, self.out_features, self.pieces = in_features, out_features, pieces
        n = out_features * pieces
        self.weight = Parameter(np.empty((n, in_features), DEFAULT_FLOAT))
        self.bias = Parameter(np.empty(n, DEFAULT_FLOAT)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            b = 1 / math.sqrt(in_features)
            init.uniform_(self.bias, -b, b)

    def forward(self, x):
        return F.maxout(x, self.weight, self.bias, self.pieces)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}")
