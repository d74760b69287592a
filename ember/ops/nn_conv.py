"""Convolution and pooling primitives (NCHW).

conv2d is im2col + one batched GEMM: the padded input is viewed as windows with
``as_strided`` (no copy), gathered once into columns (N, C*kh*kw, Ho*Wo), and multiplied by the
weight (O, C*kh*kw). Backward reuses the saved columns for the weight gradient and scatters the
column gradient back with col2im: a loop over the kh*kw kernel positions adding strided
slices (never a loop over pixels). Pooling uses the same strided-slice loop, with a reshape
fast path when windows don't overlap (kernel == stride, no padding).

Padding is given per side, ((top, bottom), (left, right)), so 'same' with even kernels
(asymmetric, as PyTorch) needs nothing special.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd.function import Function


def out_size(n, k, s, pad_lo, pad_hi, d):
    """floor((n + pads - d (k - 1) - 1) / s) + 1."""
    return (n + pad_lo + pad_hi - d * (k - 1) - 1) // s + 1


def _pad(x, padding, value=0.0):
    (pt, pb), (pl, pr) = padding
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    xp = np.full((n, c, h + pt + pb, w + pl + pr), value, x.dtype)
    xp[:, :, pt:pt + h, pl:pl + w] = x
    return xp


def _windows(xp, kh, kw, ho, wo, stride, dilation):
    """View (N, C, kh, kw, Ho, Wo) of the windows of the padded input (no copy)."""
    sn, sc, sh, sw = xp.strides
    (s1, s2), (d1, d2) = stride, dilation
    n, c = xp.shape[:2]
    return as_strided(xp, (n, c, kh, kw, ho, wo),
                      (sn, sc, sh * d1, sw * d2, sh * s1, sw * s2), writeable=False)


def _slice(i, j, ho, wo, stride, dilation):
    (s1, s2), (d1, d2) = stride, dilation
    return (slice(None), slice(None),
            slice(i * d1, i * d1 + s1 * (ho - 1) + 1, s1),
            slice(j * d2, j * d2 + s2 * (wo - 1) + 1, s2))


def im2col(xp, kh, kw, ho, wo, stride, dilation):
    """Columns (N, C, kh, kw, Ho, Wo), contiguous: one strided copy per kernel position."""
    n, c = xp.shape[:2]
    cols = np.empty((n, c, kh, kw, ho, wo), xp.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[_slice(i, j, ho, wo, stride, dilation)]
    return cols


def col2im(cols, padded_shape, padding, stride, dilation):
    """Adjoint of im2col: add every kernel position's column slab into the (padded) image,
    then drop the padding."""
    n, c, kh, kw, ho, wo = cols.shape
    dxp = np.zeros(padded_shape, cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[_slice(i, j, ho, wo, stride, dilation)] += cols[:, :, i, j]
    (pt, pb), (pl, pr) = padding
    h, w = padded_shape[2] - pt - pb, padded_shape[3] - pl - pr
    return dxp[:, :, pt:pt + h, pl:pl + w]


class Conv2d(Function):
    """out[n, o] = sum_{c, i, j} w[o, c, i, j] x_pad[n, g(o) c, s h + d i, s w + d j] + b[o].

    Inputs: x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) or None.
    Attributes: stride, padding ((top, bottom), (left, right)), dilation (pairs), groups.
    """

    saves_inputs = True

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                groups=1):
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        ho = out_size(h, kh, stride[0], *padding[0], dilation[0])
        wo = out_size(wd, kw, stride[1], *padding[1], dilation[1])
        xp = _pad(x, padding)
        cols = im2col(xp, kh, kw, ho, wo, stride, dilation)
        k = cg * kh * kw
        if groups == 1:
            out = np.matmul(w.reshape(o, k), cols.reshape(n, k, ho * wo))
        else:
            og = o // groups
            out = np.matmul(w.reshape(groups, og, k), cols.reshape(n, groups, k, ho * wo))
        out = out.reshape(n, o, ho, wo)
        if b is not None:
            out += b.reshape(1, o, 1, 1)
        ctx.cols, ctx.w, ctx.xp_shape, ctx.has_b = cols, w, xp.shape, b is not None
        ctx.stride, ctx.padding, ctx.dilation, ctx.groups = stride, padding, dilation, groups
        return out

    @staticmethod
    def backward(ctx, g):
        cols, w, groups = ctx.cols, ctx.w, ctx.groups
        n, c, kh, kw, ho, wo = cols.shape
        o = w.shape[0]
        k = w.shape[1] * kh * kw
        l = ho * wo
        gx = gw = gb = None
        if groups == 1:
            g3 = g.reshape(n, o, l)
            c3 = cols.reshape(n, k, l)
            if ctx.needs[1]:
                # sum_n g[n] cols[n]^T as a single GEMM over the (n, l) pairs
                gw = np.tensordot(g3, c3, axes=([0, 2], [0, 2])).reshape(w.shape)
            if ctx.needs[0]:
                gcols = np.matmul(w.reshape(o, k).T, g3)
                gx = col2im(gcols.reshape(cols.shape), ctx.xp_shape, ctx.padding, ctx.stride,
                            ctx.dilation)
        else:
            og = o // groups
            g4 = g.reshape(n, groups, og, l)
            c4 = cols.reshape(n, groups, k, l)
            if ctx.needs[1]:
                gw = np.einsum("ngol,ngkl->gok", g4, c4, optimize=True).reshape(w.shape)
            if ctx.needs[0]:
                wt = np.swapaxes(w.reshape(groups, og, k), 1, 2)
                gcols = np.matmul(wt, g4)
                gx = col2im(gcols.reshape(cols.shape), ctx.xp_shape, ctx.padding, ctx.stride,
                            ctx.dilation)
        if ctx.has_b and ctx.needs[2]:
            gb = g.sum(axis=(0, 2, 3))
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
    if gfull.shape == tuple(shape):
        return gfull
    gx = np.zeros(shape, gfull.dtype)
    gx[:, :, :gfull.shape[2], :gfull.shape[3]] = gfull
    return gx


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
            n, c = x.shape[:2]
            xr = x[:, :, :ho * kh, :wo * kw].reshape(n, c, ho, kh, wo, kw)
            out = xr.max(axis=(3, 5))
        else:
            pads = ((padding[0], padding[0]), (padding[1], padding[1]))
            xp = _pad(x, pads, -np.inf)
            out = None
            for i in range(kh):
                for j in range(kw):
                    v = xp[_slice(i, j, ho, wo, stride, dilation)]
                    out = v.copy() if out is None else np.maximum(out, v, out=out)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, g):
        kernel, stride, padding, dilation, ho, wo = ctx.args
        x, out = ctx.x, ctx.out
        kh, kw = kernel
        n, c, h, w = x.shape
        remaining = np.ones(out.shape, bool)
        zero = np.zeros((), g.dtype)
        if _fast(x, kernel, stride, padding, ho, wo) and dilation == (1, 1):
            xr = x[:, :, :ho * kh, :wo * kw].reshape(n, c, ho, kh, wo, kw)
            gfull = np.empty((n, c, ho * kh, wo * kw), g.dtype)
            gr = gfull.reshape(n, c, ho, kh, wo, kw)  # a view of gfull
            for i in range(kh):
                for j in range(kw):
                    hit = xr[:, :, :, i, :, j] == out
                    hit &= remaining
                    remaining ^= hit
                    gr[:, :, :, i, :, j] = np.where(hit, g, zero)
            return _uncrop(gfull, x.shape)
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        xp = _pad(x, pads, -np.inf)
        gxp = np.zeros(xp.shape, g.dtype)
        overlap = stride[0] < kh * dilation[0] or stride[1] < kw * dilation[1]
        for i in range(kh):
            for j in range(kw):
                sl = _slice(i, j, ho, wo, stride, dilation)
                hit = xp[sl] == out
                hit &= remaining
                remaining ^= hit
                if overlap:
                    gxp[sl] += np.where(hit, g, zero)
                else:
                    gxp[sl] = np.where(hit, g, zero)
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
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        xp = _pad(x, pads)
        out = np.zeros((n, c, ho, wo), x.dtype)
        for i in range(kh):
            for j in range(kw):
                out += xp[_slice(i, j, ho, wo, stride, (1, 1))]
        if count_include_pad or padding == (0, 0):
            div = np.asarray(kh * kw, x.dtype)
        else:
            ones = _pad(np.ones((1, 1, h, w), x.dtype), pads)
            div = np.zeros((1, 1, ho, wo), x.dtype)
            for i in range(kh):
                for j in range(kw):
                    div += ones[_slice(i, j, ho, wo, stride, (1, 1))]
        out /= div
        ctx.div = div
        return out

    @staticmethod
    def backward(ctx, g):
        kernel, stride, padding, ho, wo = ctx.args
        kh, kw = kernel
        n, c, h, w = ctx.shape
        if ctx.div is None:
            gfull = np.empty((n, c, ho * kh, wo * kw), g.dtype)
            gfull.reshape(n, c, ho, kh, wo, kw)[...] = (g / (kh * kw))[:, :, :, None, :, None]
            return _uncrop(gfull, ctx.shape)
        gd = g / ctx.div
        gxp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), g.dtype)
        for i in range(kh):
            for j in range(kw):
                gxp[_slice(i, j, ho, wo, stride, (1, 1))] += gd
        return gxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]
