"""``tf.nn``: activations and the fused softmax cross-entropy losses."""
from __future__ import annotations

from ... import ops as _ops
from ...ops import nn_activation as _act
from ...ops import nn_conv as _conv
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


# ---- convolution and pooling, TensorFlow's NHWC layout over ember's NCHW primitives ----------

def _same_pads(size, k, s, what):
    """TensorFlow's SAME padding: output ceil(size / s), the odd pixel at the end."""
    if size is None:
        raise ValueError(f"{what}: padding='SAME' needs the spatial size known, got None")
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pads(x, kh, kw, sh, sw, padding, what):
    if padding == "VALID":
        return (0, 0), (0, 0)
    if padding != "SAME":
        raise ValueError(f"{what}: padding must be 'SAME' or 'VALID', got {padding!r}")
    return _same_pads(x.shape[1], kh, sh, what), _same_pads(x.shape[2], kw, sw, what)


def _nhwc(x, what):
    x = _b.as_value(x)
    if x.shape is None or len(x.shape) != 4:
        raise ValueError(f"{what}: input must be 4-D (batch, height, width, channels), got "
                         f"shape {x.shape}")
    return x


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True,  # noqa: A002
           data_format="NHWC", dilations=(1, 1, 1, 1), name=None, filters=None):
    """2-D convolution of NHWC ``input`` with a (kh, kw, in, out) ``filter``."""
    if data_format != "NHWC":
        raise ValueError("conv2d: only data_format='NHWC' is supported")
    x = _nhwc(input, "conv2d")
    w = _b.as_value(filter if filter is not None else filters)
    kh, kw = w.shape[0], w.shape[1]
    sh, sw = strides[1], strides[2]
    pads = _pads(x, kh, kw, sh, sw, padding, "conv2d")
    xc = _b.apply(_ops.Permute, x, dims=(0, 3, 1, 2), name="ToNCHW")
    wc = _b.apply(_ops.Permute, w, dims=(3, 2, 0, 1), name="FilterToOIHW")
    y = _b.apply(_conv.Conv2d, xc, wc, stride=(sh, sw), padding=pads,
                 dilation=(dilations[1], dilations[2]), name=name or "Conv2D")
    return _b.apply(_ops.Permute, y, dims=(0, 2, 3, 1), name="ToNHWC")


def max_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """Max pooling of NHWC ``value`` over (ksize[1], ksize[2]) windows."""
    x = _nhwc(value if value is not None else input, "max_pool")
    kh, kw, sh, sw = ksize[1], ksize[2], strides[1], strides[2]
    (t, bt), (lft, r) = _pads(x, kh, kw, sh, sw, padding, "max_pool")
    xc = _b.apply(_ops.Permute, x, dims=(0, 3, 1, 2), name="ToNCHW")
    if t or bt or lft or r:  # padding counts as -inf, as TensorFlow's
        xc = _b.apply(_ops.Pad, xc, widths=((0, 0), (0, 0), (t, bt), (lft, r)),
                      value=float("-inf"))
    y = _b.apply(_conv.MaxPool2d, xc, kernel=(kh, kw), stride=(sh, sw), name=name or "MaxPool")
    return _b.apply(_ops.Permute, y, dims=(0, 2, 3, 1), name="ToNHWC")


max_pool2d = max_pool
