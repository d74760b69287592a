"""MaxPool / AveragePool (pads, strides, dilations, ceil_mode, count_include_pad, auto_pad;
1-D and 2-D) and the global poolings. The primitives take symmetric padding; other geometry
is an explicit Pad (-inf for max) before an unpadded pooling, and average pooling then
divides by each window's count of counted elements."""
from __future__ import annotations

import numpy as np

from .. import ops as _ops
from ..ops import nn_conv as _conv
from ._import_geometry import as_2d, check_spatial, pads_of
from ._import_registry import register, tensor


def _check_pool(n):
    check_spatial(n)
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
    pads = pads_of(n, tuple(x.shape[2:]), kernel, strides, dil)
    ceil = bool(n.get("ceil_mode", 0))
    one_d = nd == 1
    if one_d:
        x, (kernel, strides, dil) = as_2d(x, (kernel, strides, dil), 1)
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
