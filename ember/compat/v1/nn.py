"""``tf.nn``: activations and the fused softmax cross-entropy losses."""
from __future__ import annotations

from ... import ops as _ops
from ...ops import nn_activation as _act
from ...ops import nn_loss as _loss
from ...graph import build as _b


def relu(features, name=None):
    return _b.apply(_ops.Relu, features, name=name or "Relu")


def sigmoid(x, name=None):
    return _b.apply(_ops.Sigmoid, x, name=name or "Sigmoid")


def tanh(x, name=None):
    return _b.apply(_ops.Tanh, x, name=name or "Tanh")


def softmax(logits, axis=-1, name=None, dim=None):
    return _b.apply(_act.Softmax, logits, axis=dim if dim is not None else axis,
                    name=name or "Softmax")


def log_softmax(logits, axis=-1, name=None, dim=None):
    return _b.apply(_act.LogSoftmax, logits, axis=dim if dim is not None else axis,
                    name=name or "LogSoftmax")


def leaky_relu(features, alpha=0.2, name=None):
    return _b.apply(_act.LeakyRelu, features, negative_slope=alpha, name=name or "LeakyRelu")


def elu(features, name=None):
    return _b.apply(_act.Elu, features, name=name or "Elu")


def softplus(features, name=None):
    return _b.apply(_act.Softplus, features, name=name or "Softplus")


def bias_add(value, bias, name=None):
    return _b.apply(_ops.Add, value, bias, name=name or "BiasAdd")


def l2_loss(t, name=None):
    """sum(t^2) / 2."""
    t = _b.as_value(t)
    return _b.apply(_ops.Sum, t * t, name="L2Loss") * 0.5


def _check_logits(logits, fn):
    logits = _b.as_value(logits)
    if logits.shape is not None and len(logits.shape) != 2:
        raise ValueError(f"{fn}: logits must be 2-D (batch, classes), got shape {logits.shape}")
    return logits


def softmax_cross_entropy_with_logits_v2(_sentinel=None, labels=None, logits=None, dim=-1,
                                         name=None, axis=None):
    """Per-row -sum_c labels_c log softmax(logits)_c, shape (batch,). Keyword arguments only,
    as in TensorFlow."""
    if _sentinel is not None:
        raise ValueError("softmax_cross_entropy_with_logits: pass labels= and logits= by name")
    logits = _check_logits(logits, "softmax_cross_entropy_with_logits")
    labels = _b.as_value(labels, logits.dtype)
    return _b.apply(_loss.SoftmaxCrossEntropy, logits, labels, reduction="none",
                    name=name or "SoftmaxCrossEntropyWithLogits")


softmax_cross_entropy_with_logits = softmax_cross_entropy_with_logits_v2


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None,
                                             name=None):
    """Per-row -log softmax(logits)[label], shape (batch,); labels are class indices."""
    if _sentinel is not None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: pass labels= and logits= "
                         "by name")
    logits = _check_logits(logits, "sparse_softmax_cross_entropy_with_logits")
    labels = _b.as_value(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be integer class "
                        f"indices, got dtype {labels.dtype}")
    return _b.apply(_loss.SoftmaxCrossEntropy, logits, labels, reduction="none",
                    name=name or "SparseSoftmaxCrossEntropyWithLogits")
