"""Functional forms of the layers, activations and losses (``import ember.nn.functional as F``),
with PyTorch's names and signatures.

Everything here composes primitives from ``ember.ops``; nothing here knows a derivative.
"""
import math

import numpy as np

from .. import ops as _ops
from .. import random as _random
from ..autograd import grad_mode
from ..backend import get_array_module
from ..ops import discrete as _disc
from ..ops import nn_activation as _act
from ..ops import nn_conv as _conv
from ..ops import nn_layers as _lay
from ..ops import nn_loss as _loss
from ..ops import random as _rnd
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float32))


def _arr(x):
    return x.data if isinstance(x, Tensor) else (None if x is None else np.asarray(x))


def _pair(v, name="value"):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {v}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


# ---- activations ------------------------------------------------------------------------
def relu(x, inplace=False):
    return _ops.Relu.apply(x)


def sigmoid(x):
    return _ops.Sigmoid.apply(x)


def tanh(x):
    return _ops.Tanh.apply(x)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    return _act.LeakyRelu.apply(x, negative_slope=float(negative_slope))


def elu(x, alpha=1.0, inplace=False):
    return _act.Elu.apply(x, alpha=float(alpha))


def softplus(x, beta=1.0, threshold=20.0):
    return _act.Softplus.apply(x, beta=float(beta), threshold=float(threshold))


def gelu(x, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act.Gelu.apply(x, approximate=approximate)


def prelu(x, weight):
    """max(0, x) + weight * min(0, x); a weight of n > 1 values is per channel (dim 1)."""
    n = weight.data.size
    if n > 1:
        if x.ndim < 2 or x.shape[1] != n:
            raise ValueError(f"prelu: weight has {n} values (one per channel) but the input of "
                             f"shape {tuple(x.shape)} has {x.shape[1] if x.ndim > 1 else 1} "
                             "channels in dim 1")
        w = weight.reshape((1, n) + (1,) * (x.ndim - 2))
    else:
        w = weight.reshape(())
    return _ops.Where.apply(x > 0, x, x * w)


def softmax(x, dim=None, dtype=None):
    x = x if dtype is None else x.astype(dtype)
    return _act.Softmax.apply(x, axis=_default_dim(x, dim))


def log_softmax(x, dim=None, dtype=None):
    x = x if dtype is None else x.astype(dtype)
    return _act.LogSoftmax.apply(x, axis=_default_dim(x, dim))


def _default_dim(x, dim):
    if dim is not None:
        return dim
    return 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice


def maxout(x, weight, bias, pieces):
    """max over k pieces of a linear map: weight (out*k, in) -> (..., out, k) -> max over k."""
    y = linear(x, weight, bias)
    out = y.shape[-1] // pieces
    return y.reshape(tuple(y.shape[:-1]) + (out, pieces)).amax(-1)


# ---- linear, dropout, embedding ----------------------------------------------------------
def linear(x, weight, bias=None):
    """x W^T + b."""
    try:
        return _lay.Linear.apply(x, weight, bias)
    except ValueError:  # the product failed: say why in the layer's terms (checked only now,
        # a mismatch always fails the product, and the check costs a call per layer)
        _check_linear(x, weight)
        raise


def _check_linear(x, weight):
    """Raise the 'input has N features' error when x's last dim does not fit the weight."""
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features (shape "
                         f"{tuple(x.shape)}) but the weight expects {weight.shape[1]} "
                         f"(weight shape {tuple(weight.shape)})") from None


def dropout(x, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p),
    so the expected activation is unchanged; identity when not training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    # the mask is drawn by a primitive from the generator's explicit state, and the state it
    # returns becomes the generator's: same draws as ember.random, and a trace sees the state
    mask, state = _rnd.DropoutMask.apply(_random.get_state(), shape=tuple(x.shape), p=float(p),
                                         dtype=x.dtype)
    _random.set_state(state.data)
    return _lay.Dropout.apply(x, mask)


def embedding(indices, weight, padding_idx=None):
    idx = _arr(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    num = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError(f"embedding: index {int(idx.max() if idx.max() >= num else idx.min())}"
                         f" is out of range for an embedding table of {num} rows")
    return _lay.Embedding.apply(weight, indices if isinstance(indices, Tensor) else idx,
                                padding_idx=padding_idx)


# ---- convolution and pooling ------------------------------------------------------------
def _conv_padding(padding, kernel, dilation, stride, name):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return tuple(out)
        raise ValueError(f"{name}: padding must be 'same', 'valid', an int or a pair, "
                         f"got {padding!r}")
    ph, pw = _pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"{name}: negative padding {padding}")
    return ((ph, ph), (pw, pw))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, _name="conv2d"):
    """2-D convolution (cross-correlation) of x (N, C, H, W) with weight (O, C/groups, kh, kw).
    Output size per dim: floor((I + 2P - D (K - 1) - 1) / S) + 1."""
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if x.ndim != 4:
        raise ValueError(f"{_name}: expected a 4-D input (N, C, H, W), got shape "
                         f"{tuple(x.shape)}" + (" (add a batch dim with x.unsqueeze(0))"
                                                if x.ndim == 3 else ""))
    o, cg, kh, kw = weight.shape
    c = x.shape[1]
    if c != cg * groups:
        raise ValueError(f"{_name}: input has {c} channels (shape {tuple(x.shape)}) but the "
                         f"layer expects {cg * groups} (weight shape {tuple(weight.shape)}, "
                         f"groups={groups})")
    pads = _conv_padding(padding, (kh, kw), dilation, stride, _name)
    ho = _conv.out_size(x.shape[2], kh, stride[0], *pads[0], dilation[0])
    wo = _conv.out_size(x.shape[3], kw, stride[1], *pads[1], dilation[1])
    if ho < 1 or wo < 1:
        raise ValueError(f"{_name}: input of shape {tuple(x.shape)} is too small: kernel "
                         f"{(kh, kw)}, stride {stride}, padding {pads}, dilation {dilation} "
                         f"give an output of {ho}x{wo} (O = (I + 2P - D(K-1) - 1)/S + 1 must "
                         "be >= 1)")
    return _conv.Conv2d.apply(x, weight, bias, stride=stride, padding=pads, dilation=dilation,
                              groups=groups)


def _pool_args(x, kernel_size, stride, padding, name, dilation=(1, 1)):
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None or stride == [] or stride == () else _pair(stride, "stride")
    p = _pair(padding, "padding")
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W), got shape "
                         f"{tuple(x.shape)}")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{name}: padding {p} should be at most half the kernel size {k}")
    ho = _conv.out_size(x.shape[2], k[0], s[0], p[0], p[0], dilation[0])
    wo = _conv.out_size(x.shape[3], k[1], s[1], p[1], p[1], dilation[1])
    if ho < 1 or wo < 1:
        raise ValueError(f"{name}: input of shape {tuple(x.shape)} is too small for kernel {k}, "
                         f"stride {s}, padding {p} (output would be {ho}x{wo})")
    return k, s, p


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    if ceil_mode or return_indices:
        raise NotImplementedError("max_pool2d: ceil_mode and return_indices are not supported")
    d = _pair(dilation, "dilation")
    k, s, p = _pool_args(x, kernel_size, stride, padding, "max_pool2d", d)
    return _conv.MaxPool2d.apply(x, kernel=k, stride=s, padding=p, dilation=d)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    if ceil_mode:
        raise NotImplementedError("avg_pool2d: ceil_mode is not supported")
    k, s, p = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    return _conv.AvgPool2d.apply(x, kernel=k, stride=s, padding=p,
                                 count_include_pad=count_include_pad)


def _adaptive(x, output_size, reduce, fixed, name):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W), got {tuple(x.shape)}")
    h, w = x.shape[2:]
    oh, ow = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    oh, ow = h if oh is None else int(oh), w if ow is None else int(ow)
    if h % oh == 0 and w % ow == 0:  # regular windows: one pooling primitive
        k = (h // oh, w // ow)
        return fixed(x, k)

    def bins(n, m):
        return [(i * n // m, -(-(i + 1) * n // m)) for i in range(m)]

    from ..functions import stack
    # columns first, then rows: a max over each bin's rows of per-row maxima picks the first
    # maximum in row-major order, the element PyTorch gives the gradient to
    cols = stack([reduce(x[:, :, :, a:b], 3) for a, b in bins(w, ow)], 3)
    return stack([reduce(cols[:, :, a:b, :], 2) for a, b in bins(h, oh)], 2)


def adaptive_avg_pool2d(x, output_size):
    """Average over PyTorch's adaptive bins [floor(i n / m), ceil((i + 1) n / m))."""
    return _adaptive(x, output_size, lambda t, d: t.mean(d),
                     lambda t, k: _conv.AvgPool2d.apply(t, kernel=k, stride=k, padding=(0, 0)),
                     "adaptive_avg_pool2d")


def adaptive_max_pool2d(x, output_size, return_indices=False):
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices is not supported")
    return _adaptive(x, output_size, lambda t, d: t.max(d)[0],
                     lambda t, k: _conv.MaxPool2d.apply(t, kernel=k, stride=k, padding=(0, 0)),
                     "adaptive_max_pool2d")


# ---- normalisation ----------------------------------------------------------------------
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise per channel (dim 1). Training: batch statistics, and the running averages are
    updated in place: r = (1 - momentum) r + momentum * stat, with the unbiased batch variance
    (as PyTorch). Evaluation: the running statistics."""
    c = x.shape[1] if x.ndim > 1 else 0
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(t.shape)} but the input of "
                             f"shape {tuple(x.shape)} has {c} channels")
    if training:
        m = x.data.size // c if c else 0
        if m <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input shape {tuple(x.shape)}")
        out, mean, var = _lay.BatchNormTrain.apply(x, weight, bias, eps=eps)
        if running_mean is not None:
            momentum = 0.1 if momentum is None else momentum
            rm, rv = _lay.BatchNormRunningStats.apply(running_mean, running_var, mean, var,
                                                      momentum, count=m)
            assign_(running_mean, rm)
            assign_(running_var, rv)
        return out
    if running_mean is None:
        raise ValueError("batch_norm: evaluation mode needs running statistics")
    shape = (1, c) + (1,) * (x.ndim - 2)
    inv = (1.0 / (running_var + eps).sqrt()).astype(x.dtype)  # primitives: traced with the state
    if weight is None:
        scale = inv
        shift = -(running_mean.astype(x.dtype) * inv)
    else:
        scale = weight * inv
        shift = -(running_mean.astype(x.dtype) * scale)
        if bias is not None:
            shift = shift + bias
    return x * scale.reshape(shape) + shift.reshape(shape)


def assign_(state, value):
    """Write a primitive's new state (``value``) into the buffer ``state`` in place, as a
    graph's state output would: the buffer keeps its identity, dtype and version counter."""
    np.copyto(state.data, value.data, casting="unsafe")
    state._vb[0] += 1


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    shp = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shp):]) != shp:
        raise ValueError(f"layer_norm: input of shape {tuple(x.shape)} does not end with the "
                         f"normalized shape {shp}")
    return _lay.LayerNorm.apply(x, weight, bias, ndims=len(shp), eps=eps)


# ---- losses -------------------------------------------------------------------------------
def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_shape(input, target, name):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ; they must be the same (broadcasting "
                         "them silently gives a wrong loss)")


def _float_target(target, input):
    t = _t(target)
    if t.dtype.kind not in "fc":
        t = t.astype(input.dtype)  # a cast primitive: the target stays an input of the trace
    return t


def mse_loss(input, target, reduction="mean"):
    """mean((input - target)^2)."""
    _check_reduction(reduction, "mse_loss")
    target = _float_target(target, input)
    _same_shape(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction="mean"):
    """mean(|input - target|)."""
    _check_reduction(reduction, "l1_loss")
    target = _float_target(target, input)
    _same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere."""
    _check_reduction(reduction, "smooth_l1_loss")
    target = _float_target(target, input)
    _same_shape(input, target, "smooth_l1_loss")
    d = input - target
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    loss = _ops.Where.apply(a < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere."""
    _check_reduction(reduction, "huber_loss")
    target = _float_target(target, input)
    _same_shape(input, target, "huber_loss")
    d = input - target
    a = d.abs()
    loss = _ops.Where.apply(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


def _class_targets(input, target, name, ignore_index=None):
    """Validate integer class targets for (N, C, d1...) input; return the int array."""
    t = target.data if isinstance(target, Tensor) else _arr(target)
    kind = t.dtype.kind
    shape = input.data.shape if isinstance(input, Tensor) else input.shape
    if kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers (int64), got {t.dtype} "
                        f"with shape {t.shape}; for class probabilities pass a float target of "
                        f"the input's shape {tuple(shape)}")
    exp = (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ()
    if t.shape != exp:
        raise ValueError(f"{name}: input of shape {tuple(shape)} needs a target of shape "
                         f"{exp} (one class index per sample), got {t.shape}")
    c = shape[1] if len(shape) > 1 else shape[0]
    if t.size <= 64:  # a few targets: a Python scan costs less than the NumPy calls below
        vals = t.tolist() if t.ndim == 1 else t.ravel().tolist()
        if not vals or (min(vals) >= 0 and max(vals) < c):
            return t
    elif kind == "i" and not (t.view(t.dtype.str.replace("i", "u")) >= c).any():
        return t  # every target in [0, c): negative ones are >= c as unsigned (one pass)
    bad = (t < 0) | (t >= c)
    if ignore_index is not None:
        bad &= t != ignore_index
    if bad.any():
        v = int(t[bad].flat[0])
        raise IndexError(f"{name}: target {v} is out of bounds for {c} classes (valid class "
                         f"indices are 0..{c - 1}; input shape {tuple(shape)})")
    return t


def _to_rows(x):
    """(N, C, d1, ...) -> (N*d1*..., C) so class scores are rows."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(1, -1)
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(perm).reshape(-1, x.shape[1])


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross-entropy from logits (softmax + negative log-likelihood in one stable step).

    ``input`` (N, C) or (N, C, d1, ...) logits; ``target`` integer class indices (N, d1, ...)
    or class probabilities of the input's shape. ``weight`` (C,) rescales classes,
    ``ignore_index`` drops samples (index targets only), ``label_smoothing`` mixes the target with
    the uniform distribution. 'mean' divides by the summed weights of the kept samples."""
    if reduction not in _REDUCTIONS:
        _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    x = input.data if isinstance(input, Tensor) else input
    nd = x.ndim
    if nd < 1:
        raise ValueError("cross_entropy: input must have a class dimension")
    if weight is None:
        wt = None
    else:
        c = x.shape[1] if nd > 1 else x.shape[0]
        w = _arr(weight)
        if w.shape != (c,):
            raise ValueError(f"cross_entropy: weight has shape {w.shape}, expected ({c},)")
        wt = weight if isinstance(weight, Tensor) else w
    tt = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    z = input if nd == 2 else _to_rows(input)
    ta = tt.data
    kind = ta.dtype.kind
    if kind == "f":
        if tuple(ta.shape) != tuple(x.shape):
            raise ValueError(f"cross_entropy: probability targets must have the input's shape "
                             f"{tuple(x.shape)}, got {tuple(ta.shape)}")
        out = _loss.SoftmaxCrossEntropy.apply(z, _to_rows(tt), wt,
                                              label_smoothing=label_smoothing,
                                              reduction=reduction)
    else:
        ts = ta.shape
        if nd == 2 and len(ts) == 1 and kind in "iu":
            xs = x.shape
            if ts[0] == xs[0] <= 64:
                # _class_targets' checks inline for the usual (N, C) input and a few targets
                # (the tiny step): the same Python scan; a target out of [0, C) (or the
                # ignore_index) gets the full check
                vals = ta.tolist()
                c = xs[1]
                if len(vals) == 1:
                    bad = not 0 <= vals[0] < c
                else:
                    bad = vals and (min(vals) < 0 or max(vals) >= c)
                if bad:
                    _class_targets(input, tt, "cross_entropy", ignore_index)
            else:
                _class_targets(input, tt, "cross_entropy", ignore_index)
        else:
            _class_targets(input, tt, "cross_entropy", ignore_index)
        out = _loss.SoftmaxCrossEntropy.apply(z, tt if len(ts) == 1 else tt.reshape(-1), wt,
                                              ignore_index=ignore_index,
                                              label_smoothing=label_smoothing,
                                              reduction=reduction)
    if reduction == "none":
        shp = (x.shape[0],) + tuple(x.shape[2:]) if nd > 1 else ()
        out = out.reshape(shp)
    return out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities: -w[y] input[i, y]; 'mean' divides by the
    summed weights of the kept samples."""
    _check_reduction(reduction, "nll_loss")
    tt = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    _class_targets(input, tt, "nll_loss", ignore_index)
    z = _to_rows(input)
    tf = tt.reshape(-1)
    valid = tf != ignore_index          # primitives on the target: a trace takes new targets
    tgt = _ops.Where.apply(valid, tf, tf.dtype.type(0))  # a scalar: devices take it too
    c = z.shape[1]
    w = _arr(weight)
    if w is not None and w.shape != (c,):
        raise ValueError(f"nll_loss: weight has shape {w.shape}, expected ({c},)")
    wt = weight if isinstance(weight, Tensor) else (None if w is None else Tensor(w))
    wy = (valid if wt is None else wt[tgt] * valid).astype(z.dtype)
    picked = z[np.arange(z.shape[0]), tgt]
    loss = -(picked * wy)
    if reduction == "none":
        shp = (input.shape[0],) + tuple(input.shape[2:]) if input.ndim > 1 else ()
        return loss.reshape(shp)
    if reduction == "sum":
        return loss.sum()
    denom = wy.sum()
    if denom.item() == 0:  # every target ignored: NaN loss (0/0) with a zero gradient, as PyTorch
        return loss.sum() * 0 + z.dtype.type(np.nan)  # a scalar constant: any device
    return loss.sum() / denom


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(y log p + (1 - y) log(1 - p)) on probabilities p, logs clamped at -100 (as PyTorch)."""
    _check_reduction(reduction, "binary_cross_entropy")
    target = _float_target(target, input)
    _same_shape(input, target, "binary_cross_entropy")
    p = input.data
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("binary_cross_entropy: input values must be probabilities in [0, 1] "
                         f"(got min {p.min():.4g}, max {p.max():.4g}); for logits use "
                         "binary_cross_entropy_with_logits")
    loss = _loss.BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable step:
    (1 - y) z + (1 + (pw - 1) y) log(1 + e^-z), finite for any logit."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = _float_target(target, input)
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    loss = _loss.BinaryCrossEntropyWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multiclass hinge (SVM) loss: sum_{j != y} max(0, margin - x_y + x_j)^p / C per sample
    (times weight[y] when given)."""
    _check_reduction(reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p=1 and p=2 are supported, got {p}")
    if input.ndim not in (1, 2):
        raise ValueError(f"multi_margin_loss: input must be (N, C) or (C,), got "
                         f"{tuple(input.shape)}")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    tt = (target if isinstance(target, Tensor) else Tensor(np.asarray(target))).reshape(-1)
    _class_targets(x, tt, "multi_margin_loss")
    n, c = x.shape
    xy = x[np.arange(n), tt].reshape(n, 1)
    h = (x - xy + margin).relu()  # exactly at the margin: no gradient (as PyTorch)
    if p == 2:
        h = h * h
    col = tt.reshape(n, 1)
    xp = get_array_module(x.data)
    other = (Tensor(xp.arange(c)) != col).astype(x.dtype)  # 1 except at the target class
    if weight is not None:
        wt = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight))
        other = other * wt[col].astype(x.dtype)
    loss = (h * other).sum(1) / c
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


# ---- shape helpers (PyTorch's F names for ops that live in ember.functions) -----------------
def pad(input, pad, mode="constant", value=0.0):
    """``F.pad``: constant padding, ``pad`` given from the last dim backwards
    ``(left, right, top, bottom, ...)``, as PyTorch."""
    if mode != "constant":
        raise NotImplementedError(f"F.pad: mode {mode!r} is not supported (only 'constant')")
    from ..functions import pad as _pad
    return _pad(input, pad, value=value)


def flatten(input, start_dim=0, end_dim=-1):
    return _t(input).flatten(start_dim, end_dim)


def one_hot(tensor, num_classes=-1):
    """Integer class indices (any shape) -> int64 one-hot with a new last dim of size
    ``num_classes`` (inferred as max + 1 when -1), as ``torch.nn.functional.one_hot``."""
    t = tensor if isinstance(tensor, Tensor) else Tensor(np.asarray(tensor))
    idx = t.data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: class indices must be integers, got {idx.dtype}")
    n = int(idx.max()) + 1 if num_classes == -1 else int(num_classes)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"one_hot: class values must be in [0, {n}), got range "
                         f"[{idx.min()}, {idx.max()}]")
    return _disc.OneHot.apply(t, num_classes=n, dtype=np.int64)
