"""Normalisation and dropout: BatchNormalization, InstanceNormalization, LayerNormalization,
LRN and Dropout. BatchNormalization and Dropout follow the module's ``train()`` / ``eval()``."""
from __future__ import annotations

import numpy as np

from .. import ops as _ops
from .. import random as _random
from ..nn import functional as F
from ..ops import nn_layers as _lay
from ..ops import random as _rnd
from ..tensor import Tensor
from ._import_registry import array, register, tensor


def _check_bn(n):
    if n.opset < 9 and n.get("spatial", 1) == 0:
        n.unsupported("spatial=0 (per-activation statistics) is not supported")


@register("BatchNormalization", check=_check_bn)
def _batch_norm(n, x, scale, bias, mean, var):
    """Eval (``model.eval()``, and always unless the module is training): y = scale (x - mean)
    / sqrt(var + eps) + B with the running statistics. Training (``model.train()``): batch
    statistics, and the running statistics (buffers) are updated as PyTorch's BatchNorm does,
    r = momentum r + (1 - momentum) stat with the unbiased batch variance (ONNX's momentum is
    the complement of PyTorch's). The module's mode decides, not the node's ``training_mode``
    attribute (opset 14), as for Dropout."""
    x = tensor(x)
    eps = float(n.get("epsilon", 1e-5))
    momentum = float(n.get("momentum", 0.9))
    training = n.training      # the module's mode, as for Dropout (not training_mode)
    if training:
        # running statistics are updated in place only when they are the module's buffers; a
        # graph that feeds them from parameters (PyTorch dedups an untrained BN's equal
        # initializers: running_var = Identity(weight)) gets copies, so no weight is overwritten
        mean, var = (v if isinstance(v, Tensor) and not v.requires_grad and v._ctx is None
                     else Tensor(array(v).copy()) for v in (mean, var))
    mean_t, var_t = tensor(mean), tensor(var)
    y = F.batch_norm(x, mean_t, var_t, tensor(scale), tensor(bias), training=training,
                     momentum=1.0 - momentum, eps=eps)
    if n.n_outputs > 1:
        return (y, mean_t, var_t) + (None,) * (n.n_outputs - 3)
    return y


@register("InstanceNormalization")
def _instance_norm(n, x, scale, bias):
    """Per sample and channel over the spatial dims: (x - mean) / sqrt(var + eps) * scale + B
    (biased variance)."""
    x = tensor(x)
    axes = tuple(range(2, x.ndim))
    eps = np.asarray(float(n.get("epsilon", 1e-5)), x.dtype)
    mean = x.mean(axes, keepdim=True)
    d = x - mean
    var = (d * d).mean(axes, keepdim=True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return d / (var + eps).sqrt() * tensor(scale).reshape(shape) + tensor(bias).reshape(shape)


def _check_layer_norm(n):
    if n.n_outputs > 1:
        n.unsupported("the Mean / InvStdDev outputs of LayerNormalization are not supported")


@register("LayerNormalization", check=_check_layer_norm)
def _layer_norm(n, x, scale, bias=None):
    """(x - mean) / sqrt(var + eps) * scale + B over the dims from ``axis`` (default -1) on."""
    x = tensor(x)
    axis = int(n.get("axis", -1)) % x.ndim
    nd = x.ndim - axis
    tail = tuple(x.shape[axis:])
    scale, bias = tensor(scale), None if bias is None else tensor(bias)
    if tuple(scale.shape) != tail:     # ONNX lets scale broadcast; the primitive wants the tail
        scale = scale.expand(tail)
    if bias is not None and tuple(bias.shape) != tail:
        bias = bias.expand(tail)
    return _lay.LayerNorm.apply(x, scale, bias, ndims=nd, eps=float(n.get("epsilon", 1e-5)))


@register("Dropout")
def _dropout(n, x, ratio=None, training_mode=None):
    """Identity in ``model.eval()``; inverted dropout (zeros with probability ``ratio``, the rest
    scaled by 1/(1 - ratio)) in ``model.train()``. The module's mode decides, as for ember's own
    layers; a ``training_mode`` input baked in by an exporter is not consulted."""
    p = float(n.get("ratio", 0.5)) if n.opset < 12 else \
        (0.5 if ratio is None else float(np.asarray(array(ratio)).reshape(())))
    x = tensor(x)
    if not n.training or p == 0:
        y, keep = x, np.ones(x.shape, bool)
    else:
        mask, state = _rnd.DropoutMask.apply(_random.get_state(), shape=tuple(x.shape), p=p,
                                             dtype=x.dtype)
        _random.set_state(state.data)
        y, keep = _lay.Dropout.apply(x, mask), mask.data != 0
    return (y, keep) if n.n_outputs > 1 else y


@register("LRN")
def _lrn(n, x):
    """Across-channel local response normalisation: x / (bias + alpha/size sum x^2)^beta."""
    x = tensor(x)
    size = int(n.get("size"))
    alpha, beta, bias = (float(n.get(k, d)) for k, d in (("alpha", 1e-4), ("beta", 0.75),
                                                           ("bias", 1.0)))
    sq = x * x
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    c = x.shape[1]
    widths = ((0, 0), (lo, hi)) + ((0, 0),) * (x.ndim - 2)
    sp = _ops.Pad.apply(sq, widths=widths, value=0.0)
    acc = sp[:, 0:c]
    for i in range(1, size):
        acc = acc + sp[:, i:i + c]
    return x / (acc * np.asarray(alpha / size, x.dtype) + np.asarray(bias, x.dtype)) ** beta
