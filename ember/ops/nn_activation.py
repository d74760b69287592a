"""Activation primitives for ember.nn: LeakyReLU, ELU, Softplus, GELU, Softmax, LogSoftmax.

Each is one fused primitive (one pass forward, one backward) instead of a chain of
elementwise ops: activations run on every element of every layer, so the per-op overhead counts.
"""
import math

import numpy as np

from ..backend import get_array_module
from .function import Function


class LeakyRelu(Function):
    """x if x > 0 else slope * x; derivative 1 or slope."""

    @staticmethod
    def forward(ctx, a, negative_slope=0.01):
        xp = get_array_module(a)
        ctx.a, ctx.slope = a, negative_slope
        return xp.where(a > 0, a, a * xp.asarray(negative_slope, a.dtype))

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return xp.where(ctx.a > 0, g, g * xp.asarray(ctx.slope, g.dtype))


class Elu(Function):
    """x if x > 0 else alpha (e^x - 1); derivative 1 or (out + alpha)."""

    saves_output = True

    @staticmethod
    def forward(ctx, a, alpha=1.0):
        xp = get_array_module(a)
        al = xp.asarray(alpha, a.dtype)
        out = xp.where(a > 0, a, al * xp.expm1(xp.minimum(a, 0)))
        ctx.a, ctx.alpha, ctx.out = a, al, out
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return xp.where(ctx.a > 0, g, g * (ctx.out + ctx.alpha))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, and x where beta x > threshold (as PyTorch);
    derivative sigmoid(beta x) (1 above the threshold)."""

    @staticmethod
    def forward(ctx, a, beta=1.0, threshold=20.0):
        xp = get_array_module(a)
        ctx.a, ctx.beta, ctx.threshold = a, beta, threshold
        bx = a * xp.asarray(beta, a.dtype)
        return xp.where(bx > threshold, a, xp.logaddexp(xp.zeros((), a.dtype), bx) / beta)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        bx = ctx.a * xp.asarray(ctx.beta, ctx.a.dtype)
        s = 0.5 * (1 + xp.tanh(0.5 * bx))
        return g * xp.where(bx > ctx.threshold, 1, s).astype(g.dtype, copy=False)


_erf64 = np.frompyfunc(math.erf, 1, 1)  # host only: exact float64 on NumPy arrays


def erf(x):
    """Vectorised error function: exact (math.erf) for float64 NumPy arrays; otherwise the
    Chebyshev fit of Numerical Recipes' erfcc (fractional error < 1.2e-7 everywhere)."""
    xp = get_array_module(x)
    if x.dtype == np.float64 and xp is np:
        return _erf64(x).astype(np.float64)
    z = xp.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (-1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277)))))))))
    erfc = t * xp.exp(-z * z + poly)
    return (xp.sign(x) * (1.0 - erfc)).astype(x.dtype)


_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Gelu(Function):
    """x Phi(x) (Phi the standard normal CDF, via erf); approximate='tanh' uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    @staticmethod
    def forward(ctx, a, approximate="none"):
        xp = get_array_module(a)
        ctx.a, ctx.approx = a, approximate
        if approximate == "tanh":
            ctx.t = t = xp.tanh(_SQRT_2_PI * (a + 0.044715 * a * a * a))
            return (0.5 * a * (1 + t)).astype(a.dtype, copy=False)
        ctx.cdf = cdf = 0.5 * (1 + erf(a * xp.asarray(1 / math.sqrt(2), a.dtype)))
        return a * cdf

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        a = ctx.a
        if ctx.approx == "tanh":
            t = ctx.t
            dinner = _SQRT_2_PI * (1 + 3 * 0.044715 * a * a)
            d = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * dinner
        else:
            d = ctx.cdf + a * (_INV_SQRT_2PI * xp.exp(-0.5 * a * a))
        return (g * d).astype(g.dtype, copy=False)


class Softmax(Function):
    """exp(x - max) / sum exp(x - max) along ``axis``; backward y (g - sum(g y))."""

    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a, axis=-1):
        xp = get_array_module(a)
        e = xp.exp(a - a.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        ctx.out, ctx.axis = e, axis
        return e

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        gy = g * y
        gy -= y * gy.sum(axis=ctx.axis, keepdims=True)
        return gy


def log_softmax(a, axis):
    """x - logsumexp(x) along axis, stable for any magnitude (raw arrays)."""
    xp = get_array_module(a)
    m = a.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    s = a - m
    s -= xp.log(xp.exp(s).sum(axis=axis, keepdims=True))
    return s


class LogSoftmax(Function):
    """x - logsumexp(x) along ``axis``; backward g - softmax(x) sum(g)."""

    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a, axis=-1):
        ctx.out, ctx.axis = log_softmax(a, axis), axis
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return g - xp.exp(ctx.out) * g.sum(axis=ctx.axis, keepdims=True)
