"""1-D convolution and pooling over (N, C, L) with PyTorch's names: ``Conv1d``, ``MaxPool1d``,
``AdaptiveAvgPool1d`` (and the functions ``conv1d``, ``max_pool1d``, ``adaptive_avg_pool1d``).

Each is the 2-D primitive on a (N, C, 1, L) view with a (1, k) kernel: the same im2col GEMM and
pooling code, no second implementation to keep right.
"""
import math

import numpy as np

from ..tensor import DEFAULT_FLOAT, Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


def _one(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    return int(v)


def _check3(x, name):
    if x.ndim != 3:
        raise ValueError(f"{name}: expected a 3-D input (N, C, L), got shape {tuple(x.shape)}"
                         + (" (add a batch dim with x.unsqueeze(0))" if x.ndim == 2 else ""))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of x (N, C, L) with weight (O, C/groups, k): L_out =
    floor((L + 2P - D (k - 1) - 1) / S) + 1; ``padding`` an int, 'valid' or 'same'."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    _check3(x, "conv1d")
    pad = padding if isinstance(padding, str) else (0, _one(padding, "padding"))
    y = F.conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, _one(stride, "stride")), pad,
                 (1, _one(dilation, "dilation")), groups, _name="conv1d")
    return y.squeeze(2)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Max over windows of ``kernel_size`` steps (stride defaults to kernel_size)."""
    _check3(x, "max_pool1d")
    k = _one(kernel_size, "kernel_size")
    s = k if stride is None else _one(stride, "stride")
    return F.max_pool2d(x.unsqueeze(2), (1, k), (1, s), (0, _one(padding, "padding")),
                        (1, _one(dilation, "dilation"))).squeeze(2)


def adaptive_avg_pool1d(x, output_size):
    """Average over PyTorch's adaptive bins [floor(i L / m), ceil((i + 1) L / m))."""
    _check3(x, "adaptive_avg_pool1d")
    return F.adaptive_avg_pool2d(x.unsqueeze(2), (1, _one(output_size, "output_size"))
                                 ).squeeze(2)


class Conv1d(Module):
    """1-D convolution (N, C_in, L) -> (N, C_out, L_out). Default init (PyTorch's): weight and
    bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in / groups * kernel_size."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError("Conv1d: only padding_mode='zeros' is supported")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = (_one(kernel_size, "kernel_size"),)
        self.stride = (_one(stride, "stride"),)
        self.padding = padding if isinstance(padding, str) else (_one(padding, "padding"),)
        self.dilation = (_one(dilation, "dilation"),)
        dt = DEFAULT_FLOAT if dtype is None else dtype
        self.weight = Parameter(np.empty((out_channels, in_channels // groups,
                                          self.kernel_size[0]), dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight.shape[1] * self.weight.shape[2])
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        try:
            return conv1d(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0],
                          self.groups)
        except ValueError as e:
            raise ValueError(f"Conv1d({self.extra_repr()}): {e}") from None

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0,), "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s if self.bias is not None else s + ", bias=False"


class MaxPool1d(Module):
    """Max pooling over (N, C, L); stride defaults to kernel_size. No parameters."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size = _one(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _one(stride, "stride")
        self.padding, self.dilation = _one(padding, "padding"), _one(dilation, "dilation")

    def forward(self, x):
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}")


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) to (N, C, output_size)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _one(output_size, "output_size")

    def forward(self, x):
        return adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
