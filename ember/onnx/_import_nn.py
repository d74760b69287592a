"""Layer-like ONNX ops: Gemm, MatMul, Conv, MaxPool/AveragePool (and the global forms),
BatchNormalization and Dropout, on ember's fused primitives (1-D forms run the 2-D primitive on
an (N, C, 1, L) view, as ``ember.nn.Conv1d`` does).
"""
from __future__ import annotations


import numpy as np

from .. import ops as _ops
from .. import random as _random
from ..nn import functional as F
from ..ops import nn_conv as _conv
from ..ops import nn_layers as _lay
from ..ops import random as _rnd
from ..tensor import Tensor
from ._import_registry import array, is_const, register, tensor

_AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


@register("MatMul")
def _matmul(n, a, b):
    if is_const(a, b):
        return np.asarray(np.matmul(a, b))
    return _ops.MatMul.apply(a, b)


@register("Gemm")
def _gemm(n, a, b, c=None):
    """Y = alpha A' B' + beta C with A' = A^T if transA, B' = B^T if transB. The common case
    (transB=1, alpha = beta = 1, as a Linear exports) is one fused Linear primitive."""
    alpha, beta = float(n.get("alpha", 1.0)), float(n.get("beta", 1.0))
    ta, tb = int(n.get("transA", 0)), int(n.get("transB", 0))
    a, b = tensor(a), tensor(b)
    if ta:
        a = a.transpose(1, 0)
    if tb and alpha == 1.0 and beta == 1.0 and (c is None or array(c).shape == b.shape[:1]):
        return _lay.Linear.apply(a, b, c)
    y = _ops.MatMul.apply(a, b.transpose(1, 0) if tb else b)
    if alpha != 1.0:
        y = y * np.asarray(alpha, y.dtype)
    if c is not None and beta != 0.0:
        y = y + (c if beta == 1.0 else c * np.asarray(beta, y.dtype))
    return y


# ---- geometry -------------------------------------------------------------------------------
def _check_spatial(n, what="kernel_shape"):
    ks = n.get("kernel_shape")
    if ks is not None and len(ks) not in (1, 2):
        n.unsupported(f"{len(ks)}-D {n.op_type} is not supported (1-D and 2-D only)")
    if n.get("auto_pad", "NOTSET") not in _AUTO_PADS:
        n.unsupported(f"auto_pad={n.get('auto_pad')!r}; expected one of {_AUTO_PADS}")


def _pads(n, size, kernel, strides, dil):
    """Per-dim (begin, end) padding from ``pads`` or ``auto_pad`` (SAME_UPPER puts the odd
    extra at the end, SAME_LOWER at the beginning; output ceil(in / stride))."""
    auto = n.get("auto_pad", "NOTSET")
    nd = len(size)
    if auto == "VALID":
        return [(0, 0)] * nd
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for i, k, s, d in zip(size, kernel, strides, dil):
            total = max(0, (-(-i // s) - 1) * s + (k - 1) * d + 1 - i)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            out.append((lo, total - lo))
        return out
    p = n.get("pads") or [0] * (2 * nd)
    return [(int(p[i]), int(p[i + nd])) for i in range(nd)]


def _as_2d(x, vals, fill):
    """A 1-D (N, C, L) problem as 2-D (N, C, 1, L): prepend ``fill`` to each per-dim list."""
    return x.unsqueeze(2), [[fill] + list(v) for v in vals]


# ---- convolution ----------------------------------------------------------------------------
@register("Conv", check=_check_spatial)
def _conv_op(n, x, w, b=None):
    x, w = tensor(x), tensor(w)
    nd = x.ndim - 2
    if nd not in (1, 2) or w.ndim != x.ndim:
        raise n.error(f"input of shape {tuple(x.shape)} and weight {tuple(w.shape)}: only "
                      "1-D and 2-D convolutions are supported")
    kernel = list(n.get("kernel_shape") or w.shape[2:])
    strides = list(n.get("strides") or [1] * nd)
    dil = list(n.get("dilations") or [1] * nd)
    pads = _pads(n, tuple(x.shape[2:]), kernel, strides, dil)
    group = int(n.get("group", 1))
    if x.shape[1] != w.shape[1] * group:
        raise n.error(f"input has {x.shape[1]} channels (shape {tuple(x.shape)}) but the weight "
                      f"{tuple(w.shape)} with group={group} expects {w.shape[1] * group}")
    one_d = nd == 1
    if one_d:
        x, (strides, dil) = _as_2d(x, (strides, dil), 1)
        w = w.unsqueeze(2)
        pads = [(0, 0)] + pads
    y = _conv.Conv2d.apply(x, w, b, stride=tuple(strides), padding=tuple(map(tuple, pads)),
                           dilation=tuple(dil), groups=group)
    return y.squeeze(2) if one_d else y


def _check_conv_transpose(n):
    _check_spatial(n)


@register("ConvTranspose", check=_check_conv_transpose)
def _conv_transpose(n, x, w, b=None):
    """The adjoint of a strided convolution, as a plain convolution: insert stride - 1 zeros
    between input elements, pad by d (k - 1) - pads (+ output_padding at the end; a negative
    amount crops), and convolve with the kernel flipped and its in/out channels swapped.
    Output size s (i - 1) + output_padding + d (k - 1) + 1 - pad_begin - pad_end."""
    x, w = tensor(x), tensor(w)
    nd = x.ndim - 2
    if nd not in (1, 2) or w.ndim != x.ndim:
        raise n.error(f"input of shape {tuple(x.shape)} and weight {tuple(w.shape)}: only "
                      "1-D and 2-D transposed convolutions are supported")
    group = int(n.get("group", 1))
    cin, cog = w.shape[0], w.shape[1]
    if x.shape[1] != cin:
        raise n.error(f"input has {x.shape[1]} channels (shape {tuple(x.shape)}) but the "
                      f"weight {tuple(w.shape)} expects {cin}")
    kernel = list(n.get("kernel_shape") or w.shape[2:])
    strides = list(n.get("strides") or [1] * nd)
    dil = list(n.get("dilations") or [1] * nd)
    outpad = list(n.get("output_padding") or [0] * nd)
    size = list(x.shape[2:])
    full = [s * (i - 1) + op + (k - 1) * d + 1
            for i, s, op, k, d in zip(size, strides, outpad, kernel, dil)]
    auto = n.get("auto_pad", "NOTSET")
    target = n.get("output_shape")
    if target is None and auto in ("SAME_UPPER", "SAME_LOWER"):
        target = [i * s for i, s in zip(size, strides)]
    if target is not None:
        target = list(target)[-nd:]
        totals = [f - t for f, t in zip(full, target)]
        upper = auto == "SAME_UPPER"
        pads = [((t // 2, t - t // 2) if upper else (t - t // 2, t // 2)) for t in totals]
    elif auto == "VALID":
        pads = [(0, 0)] * nd
    else:
        p = n.get("pads") or [0] * (2 * nd)
        pads = [(int(p[i]), int(p[i + nd])) for i in range(nd)]
    if one_d := nd == 1:
        x, w = x.unsqueeze(2), w.unsqueeze(2)
        kernel, strides, dil, outpad = [1] + kernel, [1] + strides, [1] + dil, [0] + outpad
        size, pads = [1] + size, [(0, 0)] + pads
    N, C = x.shape[0], x.shape[1]
    (sh, sw), (h, wd) = strides, size
    if sh > 1 or sw > 1:              # zero insertion: (N, C, H, 1, W, 1) padded, then merged
        up = _ops.Pad.apply(x.reshape(N, C, h, 1, wd, 1),
                            widths=((0, 0), (0, 0), (0, 0), (0, sh - 1), (0, 0), (0, sw - 1)),
                            value=0.0)
        x = up.reshape(N, C, h * sh, wd * sw)[:, :, :(h - 1) * sh + 1, :(wd - 1) * sw + 1]
    amounts = [(d * (k - 1) - lo, d * (k - 1) - hi + op)
               for k, d, (lo, hi), op in zip(kernel, dil, pads, outpad)]
    widths = ((0, 0), (0, 0)) + tuple((max(lo, 0), max(hi, 0)) for lo, hi in amounts)
    if any(v for pair in widths for v in pair):
        x = _ops.Pad.apply(x, widths=widths, value=0.0)
    if any(lo < 0 or hi < 0 for lo, hi in amounts):
        crop = tuple(slice(-min(lo, 0), x.shape[2 + i] + min(hi, 0))
                     for i, (lo, hi) in enumerate(amounts))
        x = x[(slice(None), slice(None)) + crop]
    kh, kw = w.shape[2], w.shape[3]
    wt = w.reshape(group, cin // group, cog, kh, kw).permute(0, 2, 1, 3, 4)
    wt = wt.reshape(group * cog, cin // group, kh, kw)[:, :, ::-1, ::-1]
    y = _conv.Conv2d.apply(x, wt, b, stride=(1, 1), padding=((0, 0), (0, 0)),
                           dilation=tuple(dil), groups=group)
    return y.squeeze(2) if one_d else y


# ---- pooling --------------------------------------------------------------------------------
def _check_pool(n):
    _check_spatial(n)
    if n.get("kernel_shape") is None:
        n.unsupported("kernel_shape is required")
    if n.op_type == "MaxPool" and n.n_outputs > 1:
        n.unsupported("the Indices output of MaxPool is not supported")
    if n.op_type == "AveragePool" and any(d != 1 for d in n.get("dilations") or []):
        n.unsupported("dilated AveragePool is not supported")


def _pool_out(i, k, s, d, lo, hi, ceil):
    """Output length; with ceil_mode the last window must start inside the input or its
    leading padding (PyTorch's and onnxruntime's rule)."""
    span = (k - 1) * d + 1
    num = i + lo + hi - span
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= i + lo:
        o -= 1
    return o


@register("MaxPool", "AveragePool", check=_check_pool)
def _pool(n, x):
    x = tensor(x)
    nd = x.ndim - 2
    kernel = list(n.get("kernel_shape"))
    if nd != len(kernel):
        raise n.error(f"kernel_shape {kernel} does not fit an input of shape {tuple(x.shape)}")
    strides = list(n.get("strides") or [1] * nd)
    dil = list(n.get("dilations") or [1] * nd)
    pads = _pads(n, tuple(x.shape[2:]), kernel, strides, dil)
    ceil = bool(n.get("ceil_mode", 0))
    one_d = nd == 1
    if one_d:
        x, (kernel, strides, dil) = _as_2d(x, (kernel, strides, dil), 1)
        pads = [(0, 0)] + pads
    size = tuple(x.shape[2:])
    outs = [_pool_out(i, k, s, d, lo, hi, ceil)
            for i, k, s, d, (lo, hi) in zip(size, kernel, strides, dil, pads)]
    # padding the window overhang of ceil_mode needs at the end of each dim
    extra = [max(0, (o - 1) * s + (k - 1) * d + 1 - (i + lo + hi))
             for o, i, k, s, d, (lo, hi) in zip(outs, size, kernel, strides, dil, pads)]
    symmetric = all(lo == hi for lo, hi in pads) and not any(extra)
    k2, s2, d2 = tuple(kernel), tuple(strides), tuple(dil)
    if n.op_type == "MaxPool":
        if symmetric:
            y = _conv.MaxPool2d.apply(x, kernel=k2, stride=s2, padding=tuple(p[0] for p in pads),
                                      dilation=d2)
        else:
            widths = ((0, 0), (0, 0)) + tuple((lo, hi + e) for (lo, hi), e in zip(pads, extra))
            xp = _ops.Pad.apply(x, widths=widths, value=-np.inf)
            y = _conv.MaxPool2d.apply(xp, kernel=k2, stride=s2, padding=(0, 0), dilation=d2)
    else:
        include = bool(n.get("count_include_pad", 0))
        if symmetric:
            y = _conv.AvgPool2d.apply(x, kernel=k2, stride=s2,
                                      padding=tuple(p[0] for p in pads),
                                      count_include_pad=include)
        else:
            y = _avg_general(x, k2, s2, pads, extra, include)
    return y.squeeze(2) if one_d else y


def _avg_general(x, kernel, stride, pads, extra, include):
    """Average pooling with asymmetric padding or ceil_mode: a window sum over the padded
    input divided by the count of elements each window covers (real ones, plus the explicit
    padding when ``count_include_pad``; the ceil_mode overhang never counts, as PyTorch)."""
    widths = ((0, 0), (0, 0)) + tuple((lo, hi + e) for (lo, hi), e in zip(pads, extra))
    xp = _ops.Pad.apply(x, widths=widths, value=0.0)
    k = kernel[0] * kernel[1]
    mean = _conv.AvgPool2d.apply(xp, kernel=kernel, stride=stride, padding=(0, 0))
    h, w = x.shape[2:]
    (pt, pb), (pl, pr) = pads
    ones = np.zeros((1, 1) + tuple(xp.shape[2:]), x.dtype)
    if include:
        ones[:, :, :pt + h + pb, :pl + w + pr] = 1
    else:
        ones[:, :, pt:pt + h, pl:pl + w] = 1
    count = _conv.AvgPool2d.forward(_ctx(), ones, kernel=kernel, stride=stride,
                                    padding=(0, 0)) * k
    return mean * (k / np.maximum(count, 1)).astype(x.dtype)


def _ctx():
    """A scratch context for calling a primitive's forward rule on constants."""
    return type("Ctx", (), {})()


@register("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(n, x):
    x = tensor(x)
    axes = tuple(range(2, x.ndim))
    if n.op_type == "GlobalAveragePool":
        return x.mean(axes, keepdim=True)
    return x.amax(axes, keepdim=True)


# ---- normalisation and dropout ----------------------------------------------------------------
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
