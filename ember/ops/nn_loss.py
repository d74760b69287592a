"""Fused loss primitives: softmax cross-entropy, binary cross-entropy (with logits and on
probabilities).

Both work from logits with the log-sum-exp trick, so logits of any magnitude (1e4 and more)
give finite losses and gradients, and both return the simple closed-form gradient
(softmax - target, sigmoid - target) instead of chaining exp/log/sum backward rules.
"""
import math

import numpy as np

from ..backend import get_array_module
from .function import Function
from .nn_activation import log_softmax


class SoftmaxCrossEntropy(Function):
    """Cross-entropy of logits z (M, C) against a per-row target distribution.

    Written as loss_i = -sum_c Q[i, c] log softmax(z_i)_c with Q built from the inputs
    ``target`` and ``weight`` (the attributes are static):
      * ``target`` int (M,): Q = (1 - eps) w[y_i] onehot(y_i) + (eps / C) w, rows whose target is
        ``ignore_index`` zeroed; 'mean' divides by sum_i w[y_i] over kept rows (PyTorch's rule);
      * ``target`` float (M, C), probabilities: Q = w (target (1 - eps) + eps / C); 'mean'
        divides by M.
    ``weight`` (C,) or None. The gradient is (sum_c Q[i, c]) softmax(z_i) - Q[i].
    Output: scalar for reduction 'mean'/'sum', (M,) for 'none'.
    """

    saves_inputs = False

    @staticmethod
    def forward(ctx, z, target, weight=None, ignore_index=-100, label_smoothing=0.0,
                reduction="mean"):
        if z.__class__ is np.ndarray:
            m, c = z.shape
            if m == 1 and c <= 64 and weight is None and not label_smoothing and \
                    target.dtype.kind != "f" and target.ndim == 1 and z.dtype.char in "fd":
                # one sample on the host (the tiny step): _fast_forward_host's one-row case
                # without the two calls on the way
                t0 = target.tolist()[0]
                if t0 != ignore_index:
                    out = _one_row_host(ctx, z, target, t0, reduction)
                    if out is not None:
                        return out
            xp = np
        else:
            xp = get_array_module(z)
            m, c = z.shape
        if weight is None and not label_smoothing and target.dtype.kind != "f":
            fast = _fast_forward(ctx, xp, z, target, ignore_index, reduction)
            if fast is not None:
                return fast
        logp = log_softmax(z, 1)
        eps = float(label_smoothing)
        w = None if weight is None else weight.astype(z.dtype, copy=False)
        probs = target if target.dtype.kind == "f" else None
        if probs is None:
            valid = target != ignore_index
            tgt = xp.where(valid, target, 0)
            rows = xp.arange(m)
            wy = valid.astype(z.dtype) if w is None else w[tgt] * valid
            picked = logp[rows, tgt]
            loss = -(1 - eps) * wy * picked
            if eps:
                lw = logp if w is None else logp * w
                loss -= (eps / c) * lw.sum(axis=1) * valid
            denom = wy.sum()
            ctx.tgt, ctx.rows, ctx.wy, ctx.valid = tgt, rows, wy, valid
        else:
            q = probs.astype(z.dtype, copy=False)
            if eps:
                q = q * (1 - eps) + eps / c
            if w is not None:
                q = q * w
            loss = -(q * logp).sum(axis=1)
            denom = m
            ctx.q = q
        ctx.logp, ctx.w, ctx.eps, ctx.red, ctx.denom = logp, w, eps, reduction, denom
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return xp.asarray(total, z.dtype)
        if denom == 0:  # every target ignored or of weight 0: 0/0, PyTorch's NaN (no warning)
            return xp.asarray(np.nan, z.dtype)
        return xp.asarray(total / denom, z.dtype)

    @staticmethod
    def backward(ctx, g):
        logp = ctx.logp
        if g.__class__ is np.ndarray and "t0" in ctx.__dict__ and ctx.red != "none" and \
                logp.__class__ is np.ndarray and float(g) == 1.0:
            # one sample on the host (t0 set) and backward()'s gradient of 1: the float64
            # steps below (either branch) give softmax with (softmax - 1) at the target, then
            # rounded to the logits' dtype, which is that dtype's own subtraction (one
            # rounding either way; x * 1.0 is x)
            sm = _exp(logp)
            sm[0, ctx.t0] -= 1.0
            return sm, None, None
        xp = np if g.__class__ is np.ndarray else get_array_module(g)
        m, c = logp.shape
        sm = xp.exp(logp)
        q = ctx.__dict__.get("q")
        one = False
        if q is not None:
            grad = sm * q.sum(axis=1, keepdims=True)
            grad -= q
        elif ctx.w is None and not ctx.eps:  # the common case, fewer passes, same values:
            # qsum = wy exactly; the products are taken in float64 as in the general branch
            wy = ctx.wy
            if wy is None:  # _fast_forward: every weight is 1, so sm * wy is sm, exactly
                one = ctx.rows is None  # one sample: a scalar, not index arrays
                if one and c <= 64 and ctx.red != "none" and xp is np:
                    # a few classes: the same float64 steps on Python floats, (sm - onehot)
                    # * g (g / 1 for the mean), then rounded to the logits' dtype
                    row = sm.tolist()[0]
                    row[ctx.t0] -= 1.0
                    gv = float(g)
                    if gv != 1.0:  # v * 1.0 is v (signed zeros and NaNs too): backward()'s 1
                        row = [v * gv for v in row]
                    return np.array([row], logp.dtype), None, None
                grad = sm.astype(xp.float64)
                if one:
                    grad[0, ctx.t0] -= 1.0
                else:
                    grad[ctx.rows, ctx.tgt] -= 1.0
            else:
                grad = xp.multiply(sm, wy[:, None], dtype=xp.float64)
                grad[ctx.rows, ctx.tgt] -= wy
        else:
            eps, w, wy, valid = ctx.eps, ctx.w, ctx.wy, ctx.valid
            wsum = c if w is None else w.sum()
            qsum = (1 - eps) * wy + (eps / c) * wsum * valid
            grad = sm * qsum[:, None]
            grad[ctx.rows, ctx.tgt] -= (1 - eps) * wy
            if eps:
                grad -= (eps / c) * (1 if w is None else w) * valid[:, None]
        if ctx.red == "none":
            grad *= g[:, None]
        elif ctx.red == "mean":
            # every target ignored (or of weight 0): the loss is 0/0 = NaN, but no logit took
            # part, so the gradient is 0 (as PyTorch), not 0 * inf
            if one:  # g / 1 is g, exactly
                grad *= g
            else:
                grad *= g / ctx.denom if ctx.denom != 0 else 0
        else:
            grad *= g
        return grad.astype(logp.dtype, copy=False), None, None


def _fast_forward(ctx, xp, z, target, ignore_index, reduction):
    """The common call (class indices, no weight, no smoothing, every target kept) with fewer
    passes and the same floats as the general branch: with w[y] = 1 the loss terms are
    -log p exactly, their sum is -(sum of log p) exactly (negation commutes with rounding), and
    the count is exact. Returns None (nothing stored) when some target is ignored, for an
    empty batch and for float16. ``ctx.wy`` is None: every weight is 1 (backward knows)."""
    m = z.shape[0]
    if z.dtype.char not in "fd" or m == 0:  # float16 counts are inexact past 2048
        return None
    if xp is np:
        return _fast_forward_host(ctx, z, target, ignore_index, reduction, m)
    valid = target != ignore_index
    if not valid.all():
        return None
    mx = z.max(axis=1, keepdims=True)  # log_softmax's steps, inline
    if not xp.isfinite(mx).all():
        mx = xp.where(xp.isfinite(mx), mx, 0)
    logp = z - mx
    logp -= xp.log(xp.exp(logp).sum(axis=1, keepdims=True))
    rows = xp.arange(m)
    picked = logp[rows, target]
    ctx.tgt, ctx.rows, ctx.wy, ctx.valid = target, rows, None, valid
    ctx.logp, ctx.w, ctx.eps, ctx.red = logp, None, 0.0, reduction
    ctx.denom = denom = z.dtype.type(m)
    if reduction == "none":
        return -picked
    total = -picked.sum()
    if reduction == "sum":
        return xp.asarray(total, z.dtype)
    return xp.asarray(total / denom, z.dtype)


_max_reduce, _add_reduce = np.maximum.reduce, np.add.reduce
_isfinite = math.isfinite


def _fast_forward_host(ctx, z, target, ignore_index, reduction, m):
    """_fast_forward on NumPy arrays: the same passes (the same floats), as ufunc reductions
    (ndarray.max/sum are Python wrappers around them), and for a few rows the target and
    finiteness checks in Python, cheaper than NumPy calls on tiny arrays (the tiny step)."""
    small = m <= 64 and target.ndim == 1
    if small:
        tl = target.tolist()
        if ignore_index in tl:
            return None
        if m == 1 and z.shape[1] <= 64:
            out = _one_row_host(ctx, z, target, tl[0], reduction)
            if out is not None:
                return out
    elif not (target != ignore_index).all():
        return None
    mx = _max_reduce(z, 1, None, None, True)  # z.max(axis=1, keepdims=True)
    if not (all(map(_isfinite, mx.reshape(m).tolist())) if small else np.isfinite(mx).all()):
        mx = np.where(np.isfinite(mx), mx, 0)
    logp = z - mx
    logp -= np.log(_add_reduce(np.exp(logp), 1, None, None, True))
    if m == 1 and 0 <= tl[0] < z.shape[1]:  # one sample: a slice, not index arrays
        ctx.t0 = t0 = tl[0]
        rows, picked = None, logp[0, t0:t0 + 1]
    else:
        rows = np.arange(m)
        picked = logp[rows, target]
    ctx.tgt, ctx.rows, ctx.wy, ctx.valid = target, rows, None, None
    ctx.logp, ctx.w, ctx.eps, ctx.red = logp, None, 0.0, reduction
    ctx.denom = denom = z.dtype.type(m)
    if reduction == "none":
        return -picked
    if rows is None:  # one term: the sum is 0 + it (+0.0 for -0.0), the mean that / 1
        return np.asarray(-(picked[0] + 0.0), z.dtype)
    total = -_add_reduce(picked, None)
    if reduction == "sum":
        return np.asarray(total, z.dtype)
    return np.asarray(total / denom, z.dtype)


_subtract, _exp, _log, _array = np.subtract, np.exp, np.log, np.array


def _one_row_host(ctx, z, target, t0, reduction):
    """_fast_forward_host for one sample (z (1, C), C <= 64, a valid target ``t0``): the same
    float steps with no broadcasting (a (1, 1) operand costs NumPy more than the values):
    the row's maximum found from its Python floats, log-sum-exp as one full reduction (the
    (1, C) row's one inner loop, as the axis-1 one; for a few terms on scalars) and a scalar
    log. Returns None (nothing stored) for a non-finite row (the general step resets its
    maximum) or a bad target."""
    vals = z.tolist()[0]
    c = len(vals)
    if c == 2:  # two classes (binary classification): the same values as below, unrolled
        a, b = vals
        s = a + b
        i = 1 if b > a else 0
    else:
        s = sum(vals)
        i = vals.index(max(vals))
    if s - s != 0 or not 0 <= t0 < c:  # finite iff every value is (float32 sums cannot
        return None  # overflow float64)
    # minus the row's first maximal element (max()'s pick, so the same signed zero), as a
    # 0-d view: no conversion of the value into a new array
    logp = _subtract(z, z[0, i, ...])
    ex = _exp(logp)
    if c <= 4:  # a few classes: the reduction's own order (0 + left to right below 8 terms;
        # the terms are >= 0) on NumPy scalars, cheaper than the reduction's machinery
        se = ex[0, 0]
        if c == 2:
            se = se + ex[0, 1]
        else:
            for i in range(1, c):
                se = se + ex[0, i]
    else:
        se = _add_reduce(ex, None)
    _subtract(logp, _log(se), logp)
    # what backward's one-sample branch reads (t0 and rows None: no index arrays, no count)
    ctx.t0, ctx.rows, ctx.wy, ctx.logp, ctx.w, ctx.eps, ctx.red = \
        t0, None, None, logp, None, 0.0, reduction
    if reduction == "none":
        return -logp[0, t0:t0 + 1]
    # the sum 0 + term (+0.0 for -0.0), the mean that / 1: exact on the term's Python float
    return _array(-(logp.item(0, t0) + 0.0), z.dtype)


class BinaryCrossEntropyWithLogits(Function):
    """Elementwise l = (1 - y) z + (1 + (pw - 1) y) softplus(-z), the stable form of
    -[pw y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]; pw = pos_weight (None means 1).
    dl/dz = (1 - y) - (1 + (pw - 1) y) sigmoid(-z);  dl/dy = -z + (pw - 1) softplus(-z)."""

    @staticmethod
    def forward(ctx, z, y, pos_weight=None):  # pos_weight: an input (None: 1)
        xp = get_array_module(z)
        sp = xp.logaddexp(xp.zeros((), z.dtype), -z)  # softplus(-z), stable
        ctx.z, ctx.y, ctx.pw, ctx.sp = z, y, pos_weight, sp
        if pos_weight is None:
            return (1 - y) * z + sp
        return (1 - y) * z + (1 + (pos_weight - 1) * y) * sp

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        z, y, pw = ctx.z, ctx.y, ctx.pw
        sig_neg = 0.5 * (1 - xp.tanh(0.5 * z))  # sigmoid(-z)
        gz = gy = None
        if ctx.needs[0]:
            coef = 1 if pw is None else 1 + (pw - 1) * y
            gz = g * ((1 - y) - coef * sig_neg)
        if ctx.needs[1]:
            gy = g * (-z if pw is None else -z + (pw - 1) * ctx.sp)
            from .elementwise import _shape, unbroadcast
            gy = unbroadcast(gy, _shape(y))
        if gz is not None:
            from .elementwise import unbroadcast
            gz = unbroadcast(gz, z.shape)
        return gz, gy, None


class BinaryCrossEntropy(Function):
    """Elementwise l = -(y max(log p, -100) + (1 - y) max(log(1 - p), -100)) on probabilities
    (PyTorch's clamp: p of exactly 0 or 1, a saturated sigmoid, gives a finite loss).
    dl/dp = (p - y) / max(p (1 - p), 1e-12) (finite at p = 0 and 1: 0 where p = y);
    dl/dy = max(log(1 - p), -100) - max(log p, -100), the derivative of the clamped loss."""

    @staticmethod
    def forward(ctx, p, y):
        xp = get_array_module(p, y)
        with np.errstate(divide="ignore"):
            logp = xp.maximum(xp.log(p), -100)
            log1mp = xp.maximum(xp.log1p(-p), -100)
        ctx.p, ctx.y, ctx.logp, ctx.log1mp = p, y, logp, log1mp
        return -(y * logp + (1 - y) * log1mp)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        p, y = ctx.p, ctx.y
        gp = gy = None
        if ctx.needs[0]:
            gp = g * (p - y) / xp.maximum(p * (1 - p), 1e-12)
        if ctx.needs[1]:
            gy = g * (ctx.log1mp - ctx.logp)
        return gp, gy


class ClippedCategoricalCrossEntropy(Function):
    """Keras's categorical cross-entropy on probabilities p (..., C) and targets y (same shape):
    ``-mean_rows sum_c y log(clip(p, eps, 1 - eps))``, a scalar.

    The float operations and their order are those of the chain clip, log, multiply, sum over
    the last axis, mean, negate (so the loss and gradient are bit for bit the chain's), in one
    node: dL/dp = -(g / n) y / clip(p) where eps <= p <= 1 - eps, else 0 (n rows). ``y`` gets
    no gradient (targets).
    """

    @staticmethod
    def forward(ctx, p, y, eps=1e-7):
        if p.shape != y.shape:
            raise ValueError(f"categorical cross-entropy: targets of shape {tuple(y.shape)} for "
                             f"probabilities of shape {tuple(p.shape)}; they must match")
        xp = get_array_module(p, y)
        c = xp.clip(p, eps, 1 - eps)
        s = xp.sum(xp.log(c) * y, axis=(p.ndim - 1,))
        m = xp.asarray(xp.mean(s, axis=tuple(range(s.ndim))))
        ctx.p, ctx.c, ctx.y, ctx.eps = p, c, y, eps
        return -m

    @staticmethod
    def backward(ctx, g):
        p, c, y, eps = ctx.p, ctx.c, ctx.y, ctx.eps
        xp = get_array_module(g)
        n = 1
        for d in p.shape[:-1]:
            n *= d
        q = xp.expand_dims(-g, 0) / n  # mean's backward: the same float as (-g) / n
        gp = y * q  # sum's and multiply's backward
        gp /= c  # log's backward
        mask = p >= eps
        mask &= p <= 1 - eps
        return xp.multiply(gp, mask, dtype=gp.dtype), None
