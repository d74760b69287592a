"""Convolution and pooling primitives (NCHW).

conv2d is im2col + one GEMM: the padded input, batch-last (C, Hp, Wp, N), is gathered into
columns (C*kh*kw, Ho*Wo*N) by one strided slab copy per kernel position and multiplied by the
weight (O, C*kh*kw). Backward reuses the saved columns for the weight gradient (one GEMM) and
scatters the column gradient (one GEMM) back with col2im: a loop over the kh*kw kernel
positions adding strided slabs (never a loop over pixels). Pooling uses the same strided-slice loop, with a reshape
fast path when windows don't overlap (kernel == stride, no padding).

Padding is given per side, ((top, bottom), (left, right)), so 'same' with even kernels
(asymmetric, as PyTorch) needs nothing special.
"""
import numpy as np

from ..backend import get_array_module
from .function import Function


def out_size(n, k, s, pad_lo, pad_hi, d):
    """floor((n + pads - d (k - 1) - 1) / s) + 1."""
    return (n + pad_lo + pad_hi - d * (k - 1) - 1) // s + 1


def _pad(x, padding, value=0.0):
    (pt, pb), (pl, pr) = padding
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    xpad = get_array_module(x).full((n, c, h + pt + pb, w + pl + pr), value, x.dtype)
    xpad[:, :, pt:pt + h, pl:pl + w] = x
    return xpad


def _slice(i, j, ho, wo, stride, dilation):
    (s1, s2), (d1, d2) = stride, dilation
    return (slice(None), slice(None),
            slice(i * d1, i * d1 + s1 * (ho - 1) + 1, s1),
            slice(j * d2, j * d2 + s2 * (wo - 1) + 1, s2))


def im2col(xt, kh, kw, ho, wo, stride, dilation):
    """Columns (C, kh, kw, Ho, Wo, N) from a padded batch-last image (C, Hp, Wp, N): one strided
    copy per kernel position, each with long contiguous inner runs (Wo * N values)."""
    xp = get_array_module(xt)
    c, n = xt.shape[0], xt.shape[3]
    (s1, s2), (d1, d2) = stride, dilation
    cols = xp.empty((c, kh, kw, ho, wo, n), xt.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xt[:, i * d1:i * d1 + s1 * (ho - 1) + 1:s1,
                               j * d2:j * d2 + s2 * (wo - 1) + 1:s2]
    return cols


def col2im(cols, padded_shape, padding, stride, dilation):
    """Adjoint of im2col: add each kernel position's slab (C, Ho, Wo, N) into the padded
    batch-last image (C, Hp, Wp, N), then drop the padding."""
    xp = get_array_module(cols)
    c, kh, kw, ho, wo, n = cols.shape
    (s1, s2), (d1, d2) = stride, dilation
    dxt = xp.zeros(padded_shape, cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxt[:, i * d1:i * d1 + s1 * (ho - 1) + 1:s1,
                j * d2:j * d2 + s2 * (wo - 1) + 1:s2] += cols[:, i, j]
    (pt, pb), (pl, pr) = padding
    return dxt[:, pt:padded_shape[1] - pb, pl:padded_shape[2] - pr]


def _to_batch_last(x, padding):
    """(N, C, H, W) -> zero-padded (C, Hp, Wp, N), one copy."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = padding
    xt = xp.zeros((c, h + pt + pb, w + pl + pr, n), x.dtype) if (pt or pb or pl or pr) else \
        xp.empty((c, h, w, n), x.dtype)
    xt[:, pt:pt + h, pl:pl + w] = x.transpose(1, 2, 3, 0)
    return xt


class Conv2d(Function):
    """out[n, o] = sum_{c, i, j} w[o, c, i, j] x_pad[n, g(o) c, s h + d i, s w + d j] + b[o].

    Inputs: x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) or None.
    Attributes: stride, padding ((top, bottom), (left, right)), dilation (pairs), groups.

    Internally batch-last: columns (C*kh*kw, Ho*Wo*N) so forward, weight gradient and column
    gradient are each ONE large GEMM (per group), and the im2col/col2im slab copies have long
    contiguous inner runs; only input, output and their gradients are transposed (small).
    """

    saves_inputs = False

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                groups=1):
        xp = get_array_module(x)
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        ho = out_size(h, kh, stride[0], *padding[0], dilation[0])
        wo = out_size(wd, kw, stride[1], *padding[1], dilation[1])
        xt = _to_batch_last(x, padding)
        cols = im2col(xt, kh, kw, ho, wo, stride, dilation)
        k, m = cg * kh * kw, ho * wo * n
        if groups == 1:
            out = w.reshape(o, k) @ cols.reshape(k, m)
        else:
            out = xp.matmul(w.reshape(groups, o // groups, k), cols.reshape(groups, k, m))
        out = out.reshape(o, ho, wo, n)
        if b is not None:
            out += b.reshape(o, 1, 1, 1)
        ctx.cols, ctx.w, ctx.xt_shape, ctx.has_b = cols, w, xt.shape, b is not None
        ctx.stride, ctx.padding, ctx.dilation, ctx.groups = stride, padding, dilation, groups
        return xp.ascontiguousarray(out.transpose(3, 0, 1, 2))

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        cols, w, groups = ctx.cols, ctx.w, ctx.groups
        c, kh, kw, ho, wo, n = cols.shape
        o = w.shape[0]
        k, m = w.shape[1] * kh * kw, ho * wo * n
        gt = xp.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(o, m)  # (O, Ho*Wo*N)
        gx = gw = gb = None
        if groups == 1:
            if ctx.needs[1]:
                gw = (gt @ cols.reshape(k, m).T).reshape(w.shape)
            if ctx.needs[0]:
                gcols = w.reshape(o, k).T @ gt
        else:
            og = o // groups
            g3 = gt.reshape(groups, og, m)
            c3 = cols.reshape(groups, k, m)
            if ctx.needs[1]:
                gw = xp.matmul(g3, c3.transpose(0, 2, 1)).reshape(w.shape)
            if ctx.needs[0]:
                gcols = xp.matmul(w.reshape(groups, og, k).transpose(0, 2, 1), g3)
        if ctx.needs[0]:
            gxt = col2im(gcols.reshape(cols.shape), ctx.xt_shape, ctx.padding, ctx.stride,
                         ctx.dilation)
            gx = xp.ascontiguousarray(gxt.transpose(3, 0, 1, 2))
        if ctx.has_b and ctx.needs[2]:
            gb = gt.sum(axis=1)
        return gx, gw, gb


def _pool_geometry(x, kernel, stride, padding, dilation=(1, 1)):
    n, c, h, w = x.shape
    ho = out_size(h, kernel[0], stride[0], padding[0], padding[0], dilation[0])
    wo = out_size(w, kernel[1], stride[1], padding[1], padding[1], dilation[1])
    return ho, wo


def _fast(x, kernel, stride, padding, ho, wo):
    """Non-overlapping windows that tile the (cropped) input: pooling is a reshape."""
    return (tuple(kernel) == tuple(stride) and padding == (0, 0))


def _uncrop(gfull, shape):
    """Gradient of the cropped (tiled) region back to the full input shape."""
    xp = get_array_module(gfull)
    if gfull.shape == tuple(shape):
        return gfull
    gx = xp.zeros(shape, gfull.dtype)
    gx[:, :, :gfull.shape[2], :gfull.shape[3]] = gfull
    return gx


def _running_max(views):
    """Elementwise max over same-shaped arrays and which one won: the first maximum (strict
    '>'), as a bool array for two views, uint8 indices for more, None for one."""
    xp = get_array_module(views[0])
    if len(views) == 1:
        return views[0], None
    if len(views) == 2:
        v0, v1 = views
        return xp.maximum(v0, v1), v1 > v0
    best = views[0].copy()
    idx = xp.zeros(best.shape, np.uint8)
    for p, v in enumerate(views[1:], 1):
        win = v > best
        xp.maximum(best, v, out=best)
        idx[win] = p
    return best, idx


def _scatter(g, idx, k, out, axis):
    """out[..., p::k along axis] = g where idx says position p won, else 0 (no zero-fill pass:
    every slot of ``out`` is written)."""
    xp = get_array_module(g)
    for p in range(k):
        sl = (slice(None),) * axis + (slice(p, None, k),)
        if idx is None:
            mask = True
        elif idx.dtype == bool:
            mask = idx if p else ~idx
        else:
            mask = idx == p
        xp.multiply(g, mask, out=out[sl])
    return out


class MaxPool2d(Function):
    """Max over each window; the gradient goes to the first maximum of its window (row-major
    scan, as PyTorch). Padding counts as -inf."""

    saves_output = True

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1)):
        ho, wo = _pool_geometry(x, kernel, stride, padding, dilation)
        (kh, kw) = kernel
        ctx.args = (kernel, stride, padding, dilation, ho, wo)
        ctx.x = x
        if _fast(x, kernel, stride, padding, ho, wo) and dilation == (1, 1):
            # windows tile the image: reduce along w inside each window row, then along h.
            # Strict '>' keeps the first maximum, so the winner is the row-major first (PyTorch).
            xc = x[:, :, :ho * kh, :wo * kw]
            a, ctx.cidx = _running_max([xc[..., j::kw] for j in range(kw)])
            out, ctx.ridx = _running_max([a[:, :, i::kh] for i in range(kh)])
            ctx.out = out
            return out
        else:
            xp = get_array_module(x)
            pads = ((padding[0], padding[0]), (padding[1], padding[1]))
            xpad = _pad(x, pads, -np.inf)
            out = None
            for i in range(kh):
                for j in range(kw):
                    v = xpad[_slice(i, j, ho, wo, stride, dilation)]
                    out = v.copy() if out is None else xp.maximum(out, v, out=out)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, g):
        kernel, stride, padding, dilation, ho, wo = ctx.args
        x, out = ctx.x, ctx.out
        kh, kw = kernel
        n, c, h, w = x.shape
        xp = get_array_module(g)
        if hasattr(ctx, "ridx"):
            # (a zero gradient times a non-finite g would be NaN: gradients are finite here)
            ga = _scatter(g, ctx.ridx, kh, xp.empty((n, c, ho * kh, wo), g.dtype), 2)
            gfull = _scatter(ga, ctx.cidx, kw, xp.empty((n, c, ho * kh, wo * kw), g.dtype), 3)
            return _uncrop(gfull, x.shape)
        remaining = xp.ones(out.shape, bool)
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        xpad = _pad(x, pads, -np.inf)
        gxp = xp.zeros(xpad.shape, g.dtype)
        overlap = stride[0] < kh * dilation[0] or stride[1] < kw * dilation[1]
        for i in range(kh):
            for j in range(kw):
                sl = _slice(i, j, ho, wo, stride, dilation)
                hit = xpad[sl] == out
                hit &= remaining
                remaining ^= hit
                if overlap:
                    gxp[sl] += xp.multiply(g, hit, dtype=g.dtype)
                else:
                    xp.multiply(g, hit, out=gxp[sl])
        return gxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


class AvgPool2d(Function):
    """Mean over each window. count_include_pad=True divides by kh*kw everywhere (PyTorch's
    default); False divides by the number of real (unpadded) elements in the window."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), count_include_pad=True):
        ho, wo = _pool_geometry(x, kernel, stride, padding)
        kh, kw = kernel
        n, c, h, w = x.shape
        ctx.args = (kernel, stride, padding, ho, wo)
        ctx.shape = x.shape
        if _fast(x, kernel, stride, padding, ho, wo):
            xr = x[:, :, :ho * kh, :wo * kw].reshape(n, c, ho, kh, wo, kw)
            ctx.div = None
            return xr.mean(axis=(3, 5))
        xp = get_array_module(x)
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        xpad = _pad(x, pads)
        out = xp.zeros((n, c, ho, wo), x.dtype)
        for i in range(kh):
            for j in range(kw):
                out += xpad[_slice(i, j, ho, wo, stride, (1, 1))]
        if count_include_pad or padding == (0, 0):
            div = xp.asarray(kh * kw, x.dtype)
        else:
            ones = _pad(xp.ones((1, 1, h, w), x.dtype), pads)
            div = xp.zeros((1, 1, ho, wo), x.dtype)
            for i in range(kh):
                for j in range(kw):
                    div += ones[_slice(i, j, ho, wo, stride, (1, 1))]
        out /= div
        ctx.div = div
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        kernel, stride, padding, ho, wo = ctx.args
        kh, kw = kernel
        n, c, h, w = ctx.shape
        if ctx.div is None:
            gfull = xp.empty((n, c, ho * kh, wo * kw), g.dtype)
            gfull.reshape(n, c, ho, kh, wo, kw)[...] = (g / (kh * kw))[:, :, :, None, :, None]
            return _uncrop(gfull, ctx.shape)
        gd = g / ctx.div
        gxp = xp.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), g.dtype)
        for i in range(kh):
            for j in range(kw):
                gxp[_slice(i, j, ho, wo, stride, (1, 1))] += gd
        return gxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]
