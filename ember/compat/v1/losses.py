"""``tf.losses``: losses reduced to a scalar (mean over the elements / the batch)."""
from __future__ import annotations

from ... import ops as _ops
from ...graph import build as _b
from . import nn as _nn


def mean_squared_error(labels, predictions, weights=1.0, scope=None, **unused):
    """mean((predictions - labels)^2) over all elements (times ``weights``)."""
    predictions = _b.as_value(predictions)
    d = _b.apply(_ops.Sub, predictions, _b.as_value(labels, predictions.dtype))
    loss = _b.apply(_ops.Mean, _b.apply(_ops.Mul, d, d), name="mean_squared_error")
    return loss if weights == 1.0 else loss * weights


def absolute_difference(labels, predictions, weights=1.0, scope=None, **unused):
    predictions = _b.as_value(predictions)
    d = _b.apply(_ops.Sub, predictions, _b.as_value(labels, predictions.dtype))
    loss = _b.apply(_ops.Mean, _b.apply(_ops.Abs, d), name="absolute_difference")
    return loss if weights == 1.0 else loss * weights


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          **unused):
    """Mean over the batch of the softmax cross-entropy against one-hot (or soft) labels."""
    logits = _b.as_value(logits)
    labels = _b.as_value(onehot_labels, logits.dtype)
    if label_smoothing:
        c = logits.shape[-1]
        labels = labels * (1 - label_smoothing) + label_smoothing / c
    loss = _b.apply(_ops.Mean, _nn.softmax_cross_entropy_with_logits_v2(labels=labels,
                                                                        logits=logits))
    return loss if weights == 1.0 else loss * weights


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None, **unused):
    """Mean over the batch of -log softmax(logits)[label]."""
    loss = _b.apply(_ops.Mean, _nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                            logits=logits))
    return loss if weights == 1.0 else loss * weights
