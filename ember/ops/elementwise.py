"""Elementwise primitives with NumPy broadcasting.

Each backward rule is the local derivative times the upstream gradient ``g``; when an input was
broadcast, the gradient is summed back over the broadcast axes (:func:`unbroadcast`).
"""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module


_ZEROS = {}


def unbroadcast(g, shape):
    """Sum ``g`` over the axes along which an input of ``shape`` was broadcast."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and g.shape[i + extra] != 1)
    g = g.sum(axis=axes, keepdims=True) if axes else g
    if extra:
        g = g.reshape(shape)
    return g


def _shape(x):
    return np.shape(x)


def _in_shape(ctx, i):
    """Shape of input ``i``, read from the recorded parent (only asked for inputs that need a
    gradient, which are tensors), so forward need not store shapes on every call."""
    return ctx.parents[i].data.shape


class Add(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs
        return (unbroadcast(g, _in_shape(ctx, 0)) if n[0] else None,
                unbroadcast(g, _in_shape(ctx, 1)) if n[1] else None)


class Sub(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, a, b):
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs
        return (unbroadcast(g, _in_shape(ctx, 0)) if n[0] else None,
                unbroadcast(-g, _in_shape(ctx, 1)) if n[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        ga = unbroadcast(g * b, _shape(a)) if ctx.needs[0] else None
        gb = unbroadcast(g * a, _shape(b)) if ctx.needs[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.divide(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        ga = unbroadcast(g / b, _shape(a)) if ctx.needs[0] else None
        # d(a/b)/db = -a / b^2
        gb = unbroadcast(-g * a / (b * b), _shape(b)) if ctx.needs[1] else None
        return ga, gb


class Pow(Function):
    """a ** b; d/da = b a^(b-1), d/db = a^b ln a. As PyTorch: d/da is 0 where b == 0 (so x**0
    has gradient 0 at x = 0, not 0 * inf), and d/db is 0 where a == 0 and b >= 0 (0**y)."""

    saves_output = True

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.a, ctx.b, ctx.out = a, b, out
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if ctx.needs[0]:
                d = g * b * np.power(a, b - 1)
                b_zero = np.equal(b, 0)
                if b_zero.any():
                    d = np.where(b_zero, 0, d).astype(d.dtype, copy=False)
                ga = unbroadcast(d, _shape(a))
            if ctx.needs[1]:
                d = g * ctx.out * np.log(a)
                zero_base = np.equal(a, 0) & np.greater_equal(b, 0)
                if zero_base.any():
                    d = np.where(zero_base, 0, d).astype(d.dtype, copy=False)
                gb = unbroadcast(d, _shape(b))
        return ga, gb


class Neg(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * np.sign(ctx.a)


class Exp(Function):
    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        ctx.out = np.exp(a)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.a


class Sqrt(Function):
    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        ctx.out = np.sqrt(a)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.out)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.sin(a)

    @staticmethod
    def backward(ctx, g):
        return g * np.cos(ctx.a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.cos(a)

    @staticmethod
    def backward(ctx, g):
        return -g * np.sin(ctx.a)


class Tanh(Function):
    """tanh'(x) = 1 - tanh(x)^2, computed from the saved output."""

    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        ctx.out = np.tanh(a)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        return g * (1 - y * y)


class Sigmoid(Function):
    """sigma(x) = 1/(1+e^-x); sigma' = sigma (1 - sigma). This form keeps the tiny values of
    saturated negative inputs (sigma(-20) = 2e-9 in float32, not 0, so a log of it downstream
    stays finite); e^-x may overflow to inf, which gives the exact limit 0."""

    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        out = np.negative(a)
        with np.errstate(over="ignore"):
            np.exp(out, out=out)
        out += 1
        np.reciprocal(out, out=out)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        return g * y * (1 - y)


class Relu(Function):
    """max(x, 0); the gradient passes where x > 0."""

    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        # a zero of a's own dtype: NumPy converts a Python 0 on every call (~0.2 us)
        zero = _ZEROS.get(a.dtype)
        if zero is None:
            zero = _ZEROS[a.dtype] = a.dtype.type(0)
        ctx.out = np.maximum(a, zero)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        # multiply by the mask: ~8x faster than np.where on large float32 arrays
        return np.multiply(g, ctx.out > 0, dtype=g.dtype)


class Maximum(Function):
    """Elementwise max; at ties the gradient is split evenly (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _minmax_grads(ctx, g, np.greater)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _minmax_grads(ctx, g, np.less)


def _minmax_grads(ctx, g, wins):
    a, b = ctx.a, ctx.b
    share = np.where(wins(a, b), 1.0, np.where(a == b, 0.5, 0.0)).astype(g.dtype)
    ga = unbroadcast(g * share, _shape(a)) if ctx.needs[0] else None
    gb = unbroadcast(g * (1 - share), _shape(b)) if ctx.needs[1] else None
    return ga, gb


class Where(Function):
    """where(cond, a, b): the gradient goes to ``a`` where cond holds, to ``b`` elsewhere."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond, ctx.sa, ctx.sb = cond, _shape(a), _shape(b)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        zero = np.zeros((), g.dtype)
        ga = unbroadcast(np.where(ctx.cond, g, zero), ctx.sa) if ctx.needs[1] else None
        gb = unbroadcast(np.where(ctx.cond, zero, g), ctx.sb) if ctx.needs[2] else None
        return None, ga, gb


class Clip(Function):
    """clip(x, lo, hi); the gradient passes where lo <= x <= hi (as torch.clamp)."""

    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.a, ctx.lo, ctx.hi = a, lo, hi
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        mask = np.ones(a.shape, bool)
        if ctx.lo is not None:
            mask &= a >= ctx.lo
        if ctx.hi is not None:
            mask &= a <= ctx.hi
        return np.multiply(g, mask, dtype=g.dtype)


class PiecewiseConstant(Function):
    """floor, ceil, round (``decimals``), trunc, sign: steps, so the gradient is 0 everywhere
    (as PyTorch; the output still belongs to the graph, so a gradient of zeros reaches x)."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, a, fn="floor", decimals=0):
        ctx.shape, ctx.dtype = a.shape, a.dtype
        xp = get_array_module(a)
        if fn == "round":
            return xp.round(a, decimals)
        if fn != "sign" and a.dtype.kind in "iub":  # integers are their own floor (as PyTorch)
            return a.copy()
        return getattr(xp, fn)(a)

    @staticmethod
    def backward(ctx, g):
        return get_array_module(g).zeros(ctx.shape, ctx.dtype)


class Cast(Function):
    """Change of floating dtype; the gradient is cast back to the input's dtype."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype)
