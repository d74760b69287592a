"""Conv and ConvTranspose (1-D and 2-D; pads, strides, dilations, group, auto_pad) on ember's
im2col Conv2d primitive."""
from __future__ import annotations

from .. import ops as _ops
from ..ops import nn_conv as _conv
from ._import_geometry import as_2d, check_spatial, pads_of
from ._import_registry import register, tensor


@register("Conv", check=check_spatial)
def _conv_op(n, x, w, b=None):
    x, w = tensor(x), tensor(w)
    nd = x.ndim - 2
    if nd not in (1, 2) or w.ndim != x.ndim:
        raise n.error(f"input of shape {tuple(x.shape)} and weight {tuple(w.shape)}: only "
                      "1-D and 2-D convolutions are supported")
    kernel = list(n.get("kernel_shape") or w.shape[2:])
    strides = list(n.get("strides") or [1] * nd)
    dil = list(n.get("dilations") or [1] * nd)
    pads = pads_of(n, tuple(x.shape[2:]), kernel, strides, dil)
    group = int(n.get("group", 1))
    if x.shape[1] != w.shape[1] * group:
        raise n.error(f"input has {x.shape[1]} channels (shape {tuple(x.shape)}) but the weight "
                      f"{tuple(w.shape)} with group={group} expects {w.shape[1] * group}")
    one_d = nd == 1
    if one_d:
        x, (strides, dil) = as_2d(x, (strides, dil), 1)
        w = w.unsqueeze(2)
        pads = [(0, 0)] + pads
    y = _conv.Conv2d.apply(x, w, b, stride=tuple(strides), padding=tuple(map(tuple, pads)),
                           dilation=tuple(dil), groups=group)
    return y.squeeze(2) if one_d else y


def _check_conv_transpose(n):
    check_spatial(n)


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
