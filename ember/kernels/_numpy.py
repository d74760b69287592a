"""NumPy kernels for channels-last (N, H, W, C) convolution and pooling; the default path and
the reference the compiled kernels are tested against.

Each function takes the array module ``xp``; for NumPy arrays the copies use one strided view
(``as_strided``) and are split over the kernel thread pool, for other modules (CuPy, the test
device) they fall back to one slab copy per kernel position.
"""
import numpy as np

from . import threads


def _padded(xp, xh, padding):
    """(N, H, W, C) -> zero-padded contiguous (N, Hp, Wp, C)."""
    (pt, pb), (pl, pr) = padding
    n, h, w, c = xh.shape
    if not (pt or pb or pl or pr):
        return xp.ascontiguousarray(xh)
    out = xp.empty((n, h + pt + pb, w + pl + pr, c), xh.dtype)
    # zero only the border, then copy the interior once
    out[:, :pt] = 0
    out[:, pt + h:] = 0
    out[:, pt:pt + h, :pl] = 0
    out[:, pt:pt + h, pl + w:] = 0
    out[:, pt:pt + h, pl:pl + w] = xh
    return out


def im2col(xp, xh, kh, kw, ho, wo, stride, dilation, padding):
    """cols[n, i, j, a, b, c] = x_pad[n, s1 i + d1 a, s2 j + d2 b, c]: (N, Ho, Wo, kh, kw, C),
    contiguous, so cols.reshape(N Ho Wo, kh kw C) @ W^T is the convolution. The innermost run
    (kw C values for dilation 1) is contiguous in both source and destination."""
    (s1, s2), (d1, d2) = stride, dilation
    xpad = _padded(xp, xh, padding)
    n, c = xh.shape[0], xh.shape[3]
    cols = xp.empty((n, ho, wo, kh, kw, c), xh.dtype)
    if xp is np:
        sn, sh, sw, sc = xpad.strides
        view = np.lib.stride_tricks.as_strided(
            xpad, (n, ho, wo, kh, kw, c), (sn, s1 * sh, s2 * sw, d1 * sh, d2 * sw, sc),
            writeable=False)

        def copy(lo, hi):
            np.copyto(cols[lo:hi], view[lo:hi])
        threads.split(copy, n, cols.size)
        return cols
    for a in range(kh):
        for b in range(kw):
            cols[:, :, :, a, b] = xpad[:, a * d1:a * d1 + s1 * (ho - 1) + 1:s1,
                                       b * d2:b * d2 + s2 * (wo - 1) + 1:s2]
    return cols


def input_grad(xp, gm, wk, shape, ho, wo, kh, kw, stride, dilation, padding):
    """Input gradient of the channels-last convolution, (N, H, W, C), from the output gradient
    gm (N Ho Wo, O) and the weight wk (O, kh kw C): for each kernel position one GEMM
    gm @ wk[:, a, b, :] (N Ho Wo, C) added into its strided slab of the padded gradient.

    Both sides of each add are long contiguous runs (Wo C values), where a col2im of the full
    column gradient (N Ho Wo, kh kw C) would add runs of only C values, and the column gradient
    (as large as the columns) is never made. Returns a view of the padded buffer."""
    n, h, w, c = shape
    (s1, s2), (d1, d2) = stride, dilation
    (pt, pb), (pl, pr) = padding
    o = wk.shape[0]
    wpos = xp.ascontiguousarray(wk.reshape(o, kh, kw, c).transpose(1, 2, 0, 3))  # small
    gpad = xp.zeros((n, h + pt + pb, w + pl + pr, c), gm.dtype)
    for a in range(kh):
        for b in range(kw):
            part = (gm @ wpos[a, b]).reshape(n, ho, wo, c)
            gpad[:, a * d1:a * d1 + s1 * (ho - 1) + 1:s1,
                 b * d2:b * d2 + s2 * (wo - 1) + 1:s2] += part
    return gpad[:, pt:pt + h, pl:pl + w]


#: whether pooling wants an NCHW input copied to channels-last first: no, (N C, H, W, 1)
#: planes pool as fast as a channels-last copy does (5.6 vs 5.7 ms, 100x32x28x28)
POOL_CHANNELS_LAST = False


def _running_max(xp, views, best, idx):
    """best = elementwise max of same-shaped views; idx = which won first (strict '>'): a bool
    array for two views, uint8 positions for more, None for one."""
    if len(views) == 1:
        best[...] = views[0]
        return
    if len(views) == 2:
        xp.maximum(views[0], views[1], out=best)
        xp.greater(views[1], views[0], out=idx)
        return
    best[...] = views[0]
    idx[...] = 0
    for p, v in enumerate(views[1:], 1):
        win = v > best
        xp.maximum(best, v, out=best)
        idx[win] = p


def _index_array(xp, shape, k):
    return None if k == 1 else xp.empty(shape, bool if k == 2 else np.uint8)


def maxpool_tiled(xp, xh, kh, kw):
    """Max over non-overlapping kh x kw windows of (N, H, W, C) (cropped to whole windows),
    first along each window row, then down the rows; the strict '>' keeps the row-major first
    maximum, as PyTorch. Returns out (N, Ho, Wo, C), contiguous, and the winners' indices."""
    n, h, w, c = xh.shape
    ho, wo = h // kh, w // kw
    mid = xp.empty((n, ho * kh, wo, c), xh.dtype) if kh > 1 else None
    out = xp.empty((n, ho, wo, c), xh.dtype)
    cidx = _index_array(xp, (n, ho * kh, wo, c), kw)
    ridx = _index_array(xp, (n, ho, wo, c), kh)

    def run(lo, hi):
        x = xh[lo:hi, :ho * kh, :wo * kw]
        a = mid[lo:hi] if kh > 1 else out[lo:hi]
        _running_max(xp, [x[:, :, j::kw] for j in range(kw)], a,
                     None if cidx is None else cidx[lo:hi])
        if kh > 1:
            _running_max(xp, [a[:, i::kh] for i in range(kh)], out[lo:hi],
                         None if ridx is None else ridx[lo:hi])
    if xp is np:
        threads.split(run, n, xh.size)
    else:
        run(0, n)
    return out, (cidx, ridx)


def _scatter(xp, g, idx, k, out, axis):
    """out[p::k along axis] = g where position p won, else 0 (every slot of out is written)."""
    for p in range(k):
        sl = (slice(None),) * axis + (slice(p, None, k),)
        if idx is None:
            out[sl] = g
        elif idx.dtype == bool:
            xp.multiply(g, idx if p else ~idx, out=out[sl])
        else:
            xp.multiply(g, idx == p, out=out[sl])


def maxpool_tiled_backward(xp, gh, state, kh, kw, shape):
    """Gradient of :func:`maxpool_tiled` as (N, H, W, C): each window's gradient goes to its
    winner, zeros elsewhere (written once; only a cropped edge is zero-filled)."""
    cidx, ridx = state
    n, h, w, c = shape
    ho, wo = gh.shape[1], gh.shape[2]
    crop = (h != ho * kh) or (w != wo * kw)
    gx = (xp.zeros if crop else xp.empty)((n, h, w, c), gh.dtype)
    mid = xp.empty((n, ho * kh, wo, c), gh.dtype) if kh > 1 else None

    def run(lo, hi):
        g = gh[lo:hi]
        if kh > 1:
            _scatter(xp, g, None if ridx is None else ridx[lo:hi], kh, mid[lo:hi], 1)
            g = mid[lo:hi]
        _scatter(xp, g, None if cidx is None else cidx[lo:hi], kw,
                 gx[lo:hi, :ho * kh, :wo * kw], 2)
    if xp is np:
        threads.split(run, n, gx.size)
    else:
        run(0, n)
    return gx
