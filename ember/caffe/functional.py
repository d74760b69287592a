"""Caffe's arithmetic where it differs from ember's (PyTorch's) layers, composed of ember ops
(so gradients come from the primitives):

- Pooling output size rounds UP by default: H_out = ceil((H + 2p - k) / s) + 1, less one when
  the last window would start inside the bottom padding; AVE divides by the window's area
  clipped to the padded image (H + p), so windows hanging over the edge divide by less.
- LRN (across channels): y = x / (k + alpha / n * sum_{n neighbouring channels} x^2)^beta;
  within a channel: y = x / (1 + alpha * mean_{n x n window} x^2)^beta (Caffe ignores k there).
"""
import math

import numpy as np

from .. import nn
from ..functions import pad as _pad
from ..tensor import Tensor

F = nn.functional


def pool_out_size(h: int, k: int, s: int, p: int, ceil: bool = True) -> int:
    span = h + 2 * p - k
    o = (-(-span // s) if ceil else span // s) + 1
    if p > 0 and (o - 1) * s >= h + p:
        o -= 1
    return o


def pool2d(x, method: str, kernel, stride, padding, ceil: bool = True):
    """Caffe's MAX / AVE pooling of (N, C, H, W) ``x`` (see the module docstring)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    h, w = x.shape[2], x.shape[3]
    oh, ow = pool_out_size(h, kh, sh, ph, ceil), pool_out_size(w, kw, sw, pw, ceil)
    need_h, need_w = (oh - 1) * sh + kh, (ow - 1) * sw + kw   # padded extent the windows use
    extra_h, extra_w = need_h - h - ph, need_w - w - pw       # rows/cols after the image
    if extra_h == ph and extra_w == pw and ph <= kh // 2 and pw <= kw // 2:
        # symmetric padding that the windows fill exactly: ember's pooling agrees with Caffe
        if method == "MAX":
            return F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw))
        return F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), count_include_pad=True)
    if extra_h < 0 or extra_w < 0:  # trailing rows no window reaches
        x = x[:, :, :h + min(extra_h, 0), :w + min(extra_w, 0)]
    fill = -math.inf if method == "MAX" else 0.0
    xp = _pad(x, ((0, 0), (0, 0), (ph, max(extra_h, 0)), (pw, max(extra_w, 0))), value=fill)
    if method == "MAX":
        return F.max_pool2d(xp, (kh, kw), (sh, sw), 0)
    out = F.avg_pool2d(xp, (kh, kw), (sh, sw), 0)
    # Caffe's divisor: the window clipped to the padded image [−p, H + p)
    hs = np.arange(oh) * sh - ph
    ws = np.arange(ow) * sw - pw
    area_h = np.minimum(hs + kh, h + ph) - hs
    area_w = np.minimum(ws + kw, w + pw) - ws
    ratio = (kh * kw) / np.outer(area_h, area_w)
    if np.all(ratio == 1):
        return out
    return out * Tensor(ratio.astype(out.dtype))


def lrn(x, local_size: int = 5, alpha: float = 1.0, beta: float = 0.75, k: float = 1.0,
        region: str = "ACROSS_CHANNELS"):
    """Caffe's local response normalisation of (N, C, H, W) ``x``; ``local_size`` odd."""
    n, c, h, w = x.shape
    half = (local_size - 1) // 2
    sq = x * x
    if region == "ACROSS_CHANNELS":
        # mean over a window of channels = an average pool along C of (N, 1, C, H*W)
        m = F.avg_pool2d(sq.reshape(n, 1, c, h * w), (local_size, 1), (1, 1), (half, 0),
                         count_include_pad=True).reshape(n, c, h, w)
        scale = m * alpha + k
    else:
        m = F.avg_pool2d(sq, (local_size, local_size), (1, 1), (half, half),
                         count_include_pad=True)
        scale = m * alpha + 1.0
    return x * scale ** (-beta)
