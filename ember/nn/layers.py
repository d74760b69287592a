"""Layers (NCHW for images): Linear, Conv2d, pooling, Flatten, Dropout, BatchNorm, LayerNorm,
Embedding. Default initialisations are PyTorch's and are stated in each docstring."""
import math

import numpy as np

from ..autograd import no_grad
from ..ops.nn_layers import Linear as _LinearOp
from ..tensor import DEFAULT_FLOAT, Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


def _empty(*shape, dtype=None):
    return Parameter(np.empty(shape, DEFAULT_FLOAT if dtype is None else dtype))


def _reset_weight_and_bias(weight, bias):
    """PyTorch's default for Linear and Conv2d: weight kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def _named(module, fn, *args, **kwargs):
    """Run fn; re-raise shape errors with the layer's repr so the user sees which layer."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, IndexError) as e:
        raise type(e)(f"{module._get_name()}({module.extra_repr()}): {e}") from None


class Linear(Module):
    """y = x W^T + b.

    Shapes: input (*, in_features) -> output (*, out_features).
    Default init (PyTorch's): weight kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in));
    bias U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = _empty(self.out_features, self.in_features, dtype=dtype)
        self.bias = _empty(self.out_features, dtype=dtype) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, x):
        ps = self._parameters
        try:  # straight from the registry: Module.__getattr__ is a Python call per name
            w, b = ps["weight"], ps["bias"]
        except KeyError:  # replaced by a plain tensor attribute (weight-norm style)
            w, b = self.weight, self.bias
        try:  # _named and F.linear inline: two frames less on the hottest layer
            return _LinearOp.apply(x, w, b)
        except (ValueError, IndexError) as e:
            if isinstance(e, ValueError):  # F.linear's message for a feature mismatch
                try:
                    F._check_linear(x, w)
                except ValueError as e2:
                    e = e2
            raise type(e)(f"{self._get_name()}({self.extra_repr()}): {e}") from None

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Conv2d(Module):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out), with
    H_out = floor((H + 2P - D (K - 1) - 1) / S + 1) (P from ``padding``: an int, a pair,
    'valid' = 0 or 'same' = output size equal to input size, stride 1 only).

    ``groups`` splits channels into independent groups (C_in and C_out divisible by it).
    Default init (PyTorch's): weight kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_in/groups * kh * kw; bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError("Conv2d: only padding_mode='zeros' is supported")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = F._pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else F._pair(padding, "padding")
        self.dilation = F._pair(dilation, "dilation")
        if isinstance(padding, str):
            F._conv_padding(padding, self.kernel_size, self.dilation, self.stride, "Conv2d")
        self.weight = _empty(out_channels, in_channels // groups, *self.kernel_size, dtype=dtype)
        self.bias = _empty(out_channels, dtype=dtype) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups, _name=f"Conv2d({self.extra_repr()})")

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else \
                f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class MaxPool2d(Module):
    """Max over kernel_size windows; stride defaults to kernel_size; padding (at most half the
    kernel) counts as -inf. Output size as Conv2d's. No parameters."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.dilation, self.ceil_mode, self.return_indices = dilation, ceil_mode, return_indices

    def forward(self, x):
        return _named(self, F.max_pool2d, x, self.kernel_size, self.stride, self.padding,
                      self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over kernel_size windows; stride defaults to kernel_size; zero padding counted in the
    divisor unless count_include_pad=False. No parameters."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return _named(self, F.avg_pool2d, x, self.kernel_size, self.stride, self.padding,
                      self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (e.g. 1 for global average pooling)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return _named(self, F.adaptive_avg_pool2d, x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return _named(self, F.adaptive_max_pool2d, x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        d = self.dim % x.ndim
        return x.reshape(tuple(x.shape[:d]) + self.unflattened_size + tuple(x.shape[d + 1:]))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale survivors
    by 1/(1-p) (expected activation unchanged); identity in eval mode. Masks come from ember's
    generator (seeded by ember.manual_seed)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace=False"


class _BatchNorm(Module):
    _expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = DEFAULT_FLOAT if dtype is None else dtype
        if affine:
            self.weight = Parameter(np.ones(num_features, dt))
            self.bias = Parameter(np.zeros(num_features, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def forward(self, x):
        if x.ndim not in self._expected_dims:
            raise ValueError(f"{self._get_name()}({self.num_features}): expected a "
                             f"{' or '.join(f'{d}-D' for d in self._expected_dims)} input, got "
                             f"shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self._get_name()}({self.num_features}): input of shape "
                             f"{tuple(x.shape)} has {x.shape[1]} channels in dim 1, expected "
                             f"{self.num_features}")
        use_batch = self.training or not self.track_running_stats
        momentum = self.momentum
        if self.training and self.track_running_stats:
            n = self.num_batches_tracked + 1      # primitives, so a trace updates the count
            F.assign_(self.num_batches_tracked, n)
            if momentum is None:  # cumulative moving average: 1/n as an input, not a constant
                momentum = 1.0 / n.astype(np.float64)
        rm = self.running_mean if (not self.training or self.track_running_stats) else None
        rv = self.running_var if rm is not None else None
        return _named(self, F.batch_norm, x, rm, rv, self.weight, self.bias, use_batch,
                      momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L), per feature C:
    y = gamma (x - mean) / sqrt(var + eps) + beta. Training uses batch statistics and updates
    running_mean/var with ``momentum`` (unbiased batch variance, as PyTorch); eval uses the
    running statistics. Default init: gamma = 1, beta = 0, running mean 0, var 1."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W), per channel C (statistics over N, H, W); see
    BatchNorm1d. Default init: gamma = 1, beta = 0."""

    _expected_dims = (4,)


class LayerNorm(Module):
    """Normalise over the last dims (normalized_shape) of each sample:
    y = gamma (x - mean) / sqrt(var + eps) + beta. Default init: gamma = 1, beta = 0."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=None):
        super().__init__()
        shp = (normalized_shape,) if isinstance(normalized_shape, int) else \
            tuple(normalized_shape)
        self.normalized_shape, self.eps = shp, eps
        self.elementwise_affine = elementwise_affine
        dt = DEFAULT_FLOAT if dtype is None else dtype
        if elementwise_affine:
            self.weight = Parameter(np.ones(shp, dt))
            self.bias = Parameter(np.zeros(shp, dt)) if bias else None
            if not bias:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return _named(self, F.layer_norm, x, self.normalized_shape, self.weight, self.bias,
                      self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class Embedding(Module):
    """Lookup table: integer indices (*) -> rows of weight (*, embedding_dim).
    Default init: N(0, 1); the padding_idx row is zero and gets no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, _weight=None,
                 dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} out of range for "
                                 f"{num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if _weight is not None:
            self.weight = Parameter(_weight)
        else:
            self.weight = _empty(num_embeddings, embedding_dim, dtype=dtype)
            self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        return _named(self, F.embedding, indices, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
