"""Fused layer primitives: linear (x W^T + b), dropout mask, embedding lookup,
batch normalisation and layer normalisation.

Each replaces a chain of 3-10 small ops whose Python overhead and temporaries dominate on small
and medium tensors.
"""
import numpy as np

from ..backend import get_array_module
from .function import Function


_ZEROS = {}  # dtype -> read-only 0-d zero


def _zero(dtype):
    z = _ZEROS.get(dtype)
    if z is None:
        z = _ZEROS[dtype] = np.zeros((), dtype)
        z.flags.writeable = False
    return z


class Linear(Function):
    """y = x W^T + b for x (..., in), W (out, in), b (out,) or None."""

    @staticmethod
    def forward(ctx, x, w, b=None):
        ctx.x, ctx.w, ctx.has_b = x, w, b is not None
        # np.dot(x, w.T), not the matmul gufunc, where the two make the same BLAS call (the
        # same floats) with less overhead: host arrays of one float32/float64 dtype, both
        # C-contiguous, x (M, K) and w (N, K) with K, N >= 2 (with a dim of 1 or other strides
        # they take BLAS or non-BLAS routes whose floats can differ: NaN/inf, signed zeros,
        # summation order; x is w: matmul's syrk)
        if x.__class__ is _ndarray and w.__class__ is _ndarray and \
                ((dt := x.dtype) is _F32 or dt is _F64) and w.dtype is dt and x.ndim == 2 and \
                w.ndim == 2:
            n, k = w.shape
            if x.shape[1] == k and k > 1 and n > 1 and x is not w and x.flags.c_contiguous \
                    and w.flags.c_contiguous:
                ctx.dot = True
                out = _dot(x, w.T)
                if b.__class__ is _ndarray and b.ndim == 1:  # in place (out's dtype, as +=) on a
                    _add(out, b[None], out)  # (1, out) view of b: same-shape operands skip
                elif b is not None:  # NumPy's broadcasting iterator
                    out += b
                return out
        ctx.dot = False
        if x.ndim > 2:  # one GEMM: a stacked matmul with a transposed weight falls back to a
            # slow non-BLAS loop in NumPy ((B, T, H) inputs: 45x slower)
            out = (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (-1,))
        else:
            out = x @ w.T  # operators: the arrays' own library
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.x, ctx.w
        gx = gw = gb = None
        if ctx.dot and g.__class__ is _ndarray and (dt := g.dtype) is x.dtype and \
                g.flags.c_contiguous:
            # forward took the np.dot path (x, w C-contiguous float32/64, both dims >= 2) and g
            # is (batch, out) of the same kind: np.dot is matmul's BLAS call here too
            needs = ctx.needs
            if needs[0]:
                gx = _dot(g, w)
            if needs[1]:
                # batch 1: matmul's non-BLAS loop sums the one term as 0 + g_i x_j; the BLAS
                # product with k = 1 gives those floats too (+0.0 for a -0.0 product)
                gw = _dot(g.T, x)
            if ctx.has_b and needs[2]:  # batch 1 (len: the rows): 0 + the row, as below
                gb = _add(g[0], _Z32 if dt is _F32 else _Z64) if len(g) == 1 else g.sum(axis=0)
            return gx, gw, gb
        flat = g.ndim == 2  # the usual (batch, features): no reshapes (a method call each)
        g2 = g if flat else g.reshape(-1, g.shape[-1])
        if ctx.needs[0]:
            gx = g2 @ w if flat else (g2 @ w).reshape(g.shape[:-1] + (w.shape[1],))
        if ctx.needs[1]:
            gw = g2.T @ (x if flat else x.reshape(-1, x.shape[-1]))
        if ctx.has_b and ctx.needs[2]:
            if g2.shape[0] == 1 and g2.__class__ is np.ndarray:
                # one row (batch 1): the sum is 0 + that row (0 + -0.0 = +0.0), one cheap
                # pass (a 0-d zero: NumPy takes a scalar operand slowly)
                gb = g2[0] + _zero(g2.dtype)
            else:
                gb = g2.sum(axis=0)
        return gx, gw, gb


_ndarray, _dot, _add = np.ndarray, np.dot, np.add
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_Z32, _Z64 = _zero(_F32), _zero(_F64)


class Dropout(Function):
    """x * mask, where ``mask`` (an input: 0 or 1/(1-p), drawn by the ``DropoutMask``
    primitive from an explicit generator state) is the inverted-dropout mask."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, x, mask):
        xp = get_array_module(x)
        if xp is not get_array_module(mask):  # masks are drawn on the host (NumPy's stream)
            mask = xp.asarray(mask)
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None


class Embedding(Function):
    """weight[indices] (indices an input); the gradient rows of ``padding_idx`` stay zero
    (as PyTorch)."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, w, indices, padding_idx=None):
        ctx.shape, ctx.idx, ctx.pad = w.shape, indices, padding_idx
        return w[indices]

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        num, dim = ctx.shape
        idx = ctx.idx.reshape(-1)
        g2 = g.reshape(-1, dim)
        if ctx.pad is not None:
            keep = idx != ctx.pad
            idx, g2 = idx[keep], g2[keep]
        gw = xp.zeros(ctx.shape, g.dtype)
        xp.add.at(gw, idx, g2)
        return gw, None


def _bshape(ndim, axis_keep):
    """Shape that broadcasts a per-channel vector along dim ``axis_keep`` of an ndim array."""
    s = [1] * ndim
    s[axis_keep] = -1
    return s


class BatchNormTrain(Function):
    """Batch normalisation with the batch's statistics (training mode):
    y = gamma (x - mean) / sqrt(var + eps) + beta, mean/var over every dim but 1 (biased var).

    Outputs (y, mean, var): the batch statistics are outputs too (the running averages are
    updated from them by :class:`BatchNormRunningStats`), not gradient paths: backward
    differentiates y through them, dx = gamma invstd / M (M dxhat - sum dxhat - xhat
    sum(dxhat xhat)).
    """

    saves_inputs = False

    @staticmethod
    def forward(ctx, x, gamma=None, beta=None, eps=1e-5):
        xp = get_array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        bs = _bshape(x.ndim, 1)
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        xhat = (x - mean.reshape(bs)) * invstd.reshape(bs)
        ctx.xhat, ctx.invstd, ctx.gamma, ctx.axes, ctx.bs = xhat, invstd, gamma, axes, bs
        ctx.has_beta = beta is not None
        out = xhat * gamma.reshape(bs) if gamma is not None else xhat.copy()
        if beta is not None:
            out += beta.reshape(bs)
        return out, mean, var

    @staticmethod
    def backward(ctx, g):
        xhat, axes, bs = ctx.xhat, ctx.axes, ctx.bs
        m = g.size // g.shape[1]
        gsum = g.sum(axis=axes)
        gxhat_sum = (g * xhat).sum(axis=axes)
        gx = ggamma = gbeta = None
        if ctx.needs[0]:
            scale = ctx.invstd if ctx.gamma is None else ctx.gamma * ctx.invstd
            gx = g - (gsum / m).reshape(bs)
            gx -= xhat * (gxhat_sum / m).reshape(bs)
            gx *= scale.reshape(bs)
        if ctx.gamma is not None and ctx.needs[1]:
            ggamma = gxhat_sum
        if ctx.has_beta and ctx.needs[2]:
            gbeta = gsum
        return gx, ggamma, gbeta


class BatchNormRunningStats(Function):
    """The running-average update as a pure state transition (inputs: state and batch
    statistics; outputs: the new state):
    mean' = (1 - m) mean + m batch_mean, var' = (1 - m) var + m count/(count - 1) batch_var
    (the unbiased batch variance, as PyTorch); ``momentum`` m is an input (a constant or a 0-d
    tensor, e.g. 1/num_batches for a cumulative average), ``count`` the values per channel."""

    saves_inputs = False
    differentiable = False

    @staticmethod
    def forward(ctx, running_mean, running_var, mean, var, momentum, count=2):
        momentum = float(momentum)  # a Python float: the arithmetic stays in the state's dtype
        rm = running_mean * (1 - momentum)
        rm += momentum * mean
        rv = running_var * (1 - momentum)
        rv += (momentum * count / (count - 1)) * var
        return rm.astype(running_mean.dtype, copy=False), rv.astype(running_var.dtype, copy=False)


class LayerNorm(Function):
    """y = gamma (x - mean) / sqrt(var + eps) + beta over the last ``ndims`` dims (biased var)."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, x, gamma=None, beta=None, ndims=1, eps=1e-5):
        xp = get_array_module(x)
        axes = tuple(range(x.ndim - ndims, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat = xc * invstd
        ctx.xhat, ctx.invstd, ctx.gamma, ctx.axes = xhat, invstd, gamma, axes
        ctx.has_beta = beta is not None
        out = xhat * gamma if gamma is not None else xhat.copy()
        if beta is not None:
            out += beta
        return out

    @staticmethod
    def backward(ctx, g):
        xhat, axes = ctx.xhat, ctx.axes
        lead = tuple(range(g.ndim - len(axes)))
        gx = ggamma = gbeta = None
        if ctx.gamma is not None and ctx.needs[1]:
            ggamma = (g * xhat).sum(axis=lead)
        if ctx.has_beta and ctx.needs[2]:
            gbeta = g.sum(axis=lead)
        if ctx.needs[0]:
            gxhat = g * ctx.gamma if ctx.gamma is not None else g
            gx = gxhat - gxhat.mean(axis=axes, keepdims=True)
            gx -= xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)
            gx *= ctx.invstd
        return gx, ggamma, gbeta
