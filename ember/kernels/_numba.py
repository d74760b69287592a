"""numba kernels for channels-last (N, H, W, C) convolution and pooling (the optional extra
``fast``). Same contracts as :mod:`ember.kernels._numpy`; each compiled loop handles a range
of images [lo, hi), is compiled ``nogil`` and is split over the kernel thread pool along the
batch, so both cores work. ``cache=True`` keeps the machine code on disk (``__pycache__``, or
numba's user cache when that is read-only): a process pays the compilation once per dtype on
the first run ever, later processes only load it.

Imported only on first use (``ember.kernels.impl``); ``import ember`` never imports numba.
"""
import numpy as np
from numba import njit

from . import _numpy, threads

_jit = njit(cache=True, nogil=True, fastmath=False, boundscheck=False)


@_jit
def _im2col(lo, hi, x, cols, s1, s2, d1, d2, pt, pl):
    n_, h_, w_, c_ = x.shape
    _, ho, wo, kh, kw, _ = cols.shape
    for n in range(lo, hi):
        for i in range(ho):
            for j in range(wo):
                for a in range(kh):
                    h = i * s1 - pt + a * d1
                    for b in range(kw):
                        w = j * s2 - pl + b * d2
                        if 0 <= h < h_ and 0 <= w < w_:
                            for c in range(c_):
                                cols[n, i, j, a, b, c] = x[n, h, w, c]
                        else:
                            for c in range(c_):
                                cols[n, i, j, a, b, c] = 0


@_jit
def _col2im(lo, hi, gcols, gx, s1, s2, d1, d2, pt, pl):
    _, h_, w_, c_ = gx.shape
    _, ho, wo, kh, kw, _ = gcols.shape
    for n in range(lo, hi):
        gx[n] = 0
        for i in range(ho):
            for j in range(wo):
                for a in range(kh):
                    h = i * s1 - pt + a * d1
                    if h < 0 or h >= h_:
                        continue
                    for b in range(kw):
                        w = j * s2 - pl + b * d2
                        if 0 <= w < w_:
                            for c in range(c_):
                                gx[n, h, w, c] += gcols[n, i, j, a, b, c]


@_jit
def _maxpool(lo, hi, x, out, idx, kh, kw):
    _, ho, wo, c_ = out.shape
    for n in range(lo, hi):
        for i in range(ho):
            for j in range(wo):
                for c in range(c_):
                    out[n, i, j, c] = x[n, i * kh, j * kw, c]
                    idx[n, i, j, c] = 0
                for p in range(1, kh * kw):
                    a = p // kw
                    b = p - a * kw
                    for c in range(c_):
                        v = x[n, i * kh + a, j * kw + b, c]
                        # strict '>' keeps the first maximum; a NaN wins and stays (as PyTorch)
                        if v > out[n, i, j, c] or (v != v and out[n, i, j, c] == out[n, i, j, c]):
                            out[n, i, j, c] = v
                            idx[n, i, j, c] = p


@_jit
def _maxpool22(lo, hi, x, out, idx):
    # 2x2 windows unrolled with selects instead of branches (random data mispredicts them);
    # pairs (0, 1) and (2, 3) first, then the winners: strict '>' keeps the row-major first
    # maximum; a NaN is taken (and kept) as PyTorch propagates it
    _, ho, wo, c_ = out.shape
    for n in range(lo, hi):
        for i in range(ho):
            for j in range(wo):
                for c in range(c_):
                    v0 = x[n, 2 * i, 2 * j, c]
                    v1 = x[n, 2 * i, 2 * j + 1, c]
                    v2 = x[n, 2 * i + 1, 2 * j, c]
                    v3 = x[n, 2 * i + 1, 2 * j + 1, c]
                    t = (v1 > v0) | ((v1 != v1) & (v0 == v0))
                    a = v1 if t else v0
                    ia = 1 if t else 0
                    t = (v3 > v2) | ((v3 != v3) & (v2 == v2))
                    b = v3 if t else v2
                    ib = 3 if t else 2
                    t = (b > a) | ((b != b) & (a == a))
                    out[n, i, j, c] = b if t else a
                    idx[n, i, j, c] = ib if t else ia


@_jit
def _maxpool_backward(lo, hi, g, idx, gx, kh, kw):
    _, ho, wo, c_ = g.shape
    for n in range(lo, hi):
        for i in range(ho):
            for j in range(wo):
                for p in range(kh * kw):
                    a = p // kw
                    b = p - a * kw
                    for c in range(c_):
                        gx[n, i * kh + a, j * kw + b, c] = (
                            g[n, i, j, c] if idx[n, i, j, c] == p else 0)


#: below this many channels im2col is NumPy's strided copy: the compiled loop copies C values
#: per kernel position, and for C = 1 (the seed CNN's first conv) that per-piece loop measured
#: ~2x slower than np.copyto of the as_strided view (7.1 vs 3.3 ms at batch 100); from 32
#: channels on it is the faster one (0.54 vs 0.69 ms per 13-image chunk)
MIN_CHANNELS = 8


def im2col(xp, xh, kh, kw, ho, wo, stride, dilation, padding):
    n, h, w, c = xh.shape
    if c < MIN_CHANNELS:
        return _numpy.im2col(xp, xh, kh, kw, ho, wo, stride, dilation, padding)
    cols = np.empty((n, ho, wo, kh, kw, c), xh.dtype)
    threads.split(_im2col, n, cols.size, xh, cols, stride[0], stride[1], dilation[0],
                  dilation[1], padding[0][0], padding[1][0])
    return cols


def input_grad(xp, gm, wk, shape, ho, wo, kh, kw, stride, dilation, padding):
    """One GEMM for the column gradient (N Ho Wo, kh kw C), then one compiled col2im pass."""
    gcols = (gm @ wk).reshape(shape[0], ho, wo, kh, kw, shape[3])
    gx = np.empty(shape, gcols.dtype)
    threads.split(_col2im, shape[0], gcols.size, gcols, gx, stride[0], stride[1], dilation[0],
                  dilation[1], padding[0][0], padding[1][0])
    return gx


#: whether pooling wants an NCHW input copied to channels-last first: yes, the loops run
#: the channels innermost, so (N C, H, W, 1) planes are slow
POOL_CHANNELS_LAST = True


def maxpool_tiled(xp, xh, kh, kw):
    n, h, w, c = xh.shape
    out = np.empty((n, h // kh, w // kw, c), xh.dtype)
    idx = np.empty(out.shape, np.uint8)
    if kh == 2 and kw == 2:
        threads.split(_maxpool22, n, xh.size, xh, out, idx)
    else:
        threads.split(_maxpool, n, xh.size, xh, out, idx, kh, kw)
    return out, idx


def maxpool_tiled_backward(xp, gh, idx, kh, kw, shape):
    n, h, w, c = shape
    ho, wo = gh.shape[1], gh.shape[2]
    crop = (h != ho * kh) or (w != wo * kw)
    gx = (np.zeros if crop else np.empty)(shape, gh.dtype)
    threads.split(_maxpool_backward, n, gx.size, gh, idx, gx, kh, kw)
    return gx
