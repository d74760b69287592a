"""Elementwise primitives with NumPy broadcasting.

Each backward rule is the local derivative times the upstream gradient ``g``; when an input was
broadcast, the gradient is summed back over the broadcast axes (:func:`unbroadcast`).
"""
import numpy as np

from ..backend import get_array_module
from . import _activation_kernels
from .function import Function


_ZEROS = {}
_ndarray = np.ndarray
_maximum, _multiply, _greater = np.maximum, np.multiply, np.greater
_ZERO_0D = {}  # float dtype -> read-only 0-d zero
for _t in (np.float16, np.float32, np.float64):
    _z = np.zeros((), _t)
    _z.flags.writeable = False
    _ZERO_0D[_z.dtype] = _z
del _t, _z
# Hot unary rules skip the module lookup for plain NumPy arrays (an identity test, ~20 ns,
# where the call costs ~100 ns on a 2 us op): ``np if a.__class__ is _ndarray else
# get_array_module(a)`` is get_array_module(a) for every array type.


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
    return getattr(x, "shape", ())  # arrays of any library; () for Python numbers


class Add(Function):
    """a + b. Backward needs only the input shapes: forward keeps references to the inputs
    (one attribute store, cheaper than reading two shapes) and backward reads ``.shape``, so
    their values may change in place (``saves_inputs`` is False)."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a + b  # operators: the arrays' own library, no module lookup on hot ops

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs
        return (unbroadcast(g, _shape(ctx.a)) if n[0] else None,
                unbroadcast(g, _shape(ctx.b)) if n[1] else None)


class Sub(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a - b

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs
        return (unbroadcast(g, _shape(ctx.a)) if n[0] else None,
                unbroadcast(-g, _shape(ctx.b)) if n[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a * b

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
        return a / b

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
        out = get_array_module(a, b).power(a, b)
        ctx.a, ctx.b, ctx.out = a, b, out
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        xp = get_array_module(g)
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if ctx.needs[0]:
                d = g * b * xp.power(a, b - 1)
                b_zero = xp.equal(b, 0)
                if b_zero.any():
                    d = xp.where(b_zero, 0, d).astype(d.dtype, copy=False)
                ga = unbroadcast(d, _shape(a))
            if ctx.needs[1]:
                d = g * ctx.out * xp.log(a)
                zero_base = xp.equal(a, 0) & xp.greater_equal(b, 0)
                if zero_base.any():
                    d = xp.where(zero_base, 0, d).astype(d.dtype, copy=False)
                gb = unbroadcast(d, _shape(b))
        return ga, gb


class Neg(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * get_array_module(g).sign(ctx.a)


class Exp(Function):
    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        ctx.out = (np if a.__class__ is _ndarray else get_array_module(a)).exp(a)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return (np if a.__class__ is _ndarray else get_array_module(a)).log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.a


class Sqrt(Function):
    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        ctx.out = (np if a.__class__ is _ndarray else get_array_module(a)).sqrt(a)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.out)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return get_array_module(a).sin(a)

    @staticmethod
    def backward(ctx, g):
        return g * get_array_module(g).cos(ctx.a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return get_array_module(a).cos(a)

    @staticmethod
    def backward(ctx, g):
        return -g * get_array_module(g).sin(ctx.a)


class Tanh(Function):
    """tanh'(x) = 1 - tanh(x)^2, computed from the saved output."""

    saves_inputs = False
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        ctx.out = (np if a.__class__ is _ndarray else get_array_module(a)).tanh(a)
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
        xp = np if a.__class__ is _ndarray else get_array_module(a)
        # a fresh array written in place (0-d inputs too: -a would be a read-only scalar)
        out = xp.negative(a, out=xp.empty_like(a)) if a.ndim == 0 else -a
        with np.errstate(over="ignore"):
            xp.exp(out, out=out)
        out += 1
        xp.reciprocal(out, out=out)
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
        if a.__class__ is _ndarray:
            zero = _ZERO_0D.get(a.dtype)  # float arrays: a 0-d zero of a's dtype (NumPy takes
            if zero is not None and a.size < _activation_kernels._MIN_SIZE:  # it for less than
                ctx.out = out = _maximum(a, zero)  # a scalar one)
                return out
        if a.size >= _activation_kernels._MIN_SIZE:  # one compiled pass (extra 'fast'),
            out = _activation_kernels.relu_forward(a)  # 2-4x np.maximum's speed
            if out is not None:
                ctx.out = out
                return out
        # a zero of a's own dtype: NumPy converts a Python 0 on every call (~0.2 us)
        zero = _ZEROS.get(a.dtype)
        if zero is None:
            zero = _ZEROS[a.dtype] = a.dtype.type(0)
        ctx.out = (np if a.__class__ is _ndarray else get_array_module(a)).maximum(a, zero)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        out = ctx.out
        if g.__class__ is _ndarray and out.__class__ is _ndarray and \
                g.size < _activation_kernels._MIN_SIZE:
            zero = _ZERO_0D.get(out.dtype)
            if zero is not None:  # g * (out > 0) with a float mask: the same products (1.0
                # and 0.0 exactly) without multiply's casting of a bool operand (~3 us)
                return _multiply(g, _greater(out, zero).astype(g.dtype))
        if g.size >= _activation_kernels._MIN_SIZE:  # one compiled pass (extra 'fast')
            gx = _activation_kernels.relu_backward(g, ctx.out)
            if gx is not None:
                return gx
        # multiply by the mask: ~8x faster than where() on large float32 arrays
        xp = np if g.__class__ is _ndarray else get_array_module(g)
        return xp.multiply(g, ctx.out > 0, dtype=g.dtype)


class Maximum(Function):
    """Elementwise max; at ties the gradient is split evenly (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return get_array_module(a, b).maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _minmax_grads(ctx, g, "greater")


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return get_array_module(a, b).minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _minmax_grads(ctx, g, "less")


def _minmax_grads(ctx, g, wins):
    a, b = ctx.a, ctx.b
    xp = get_array_module(g)
    share = xp.where(getattr(xp, wins)(a, b), 1.0, xp.where(a == b, 0.5, 0.0)).astype(g.dtype)
    ga = unbroadcast(g * share, _shape(a)) if ctx.needs[0] else None
    gb = unbroadcast(g * (1 - share), _shape(b)) if ctx.needs[1] else None
    return ga, gb


class Where(Function):
    """where(cond, a, b): the gradient goes to ``a`` where cond holds, to ``b`` elsewhere."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond, ctx.sa, ctx.sb = cond, _shape(a), _shape(b)
        return get_array_module(cond, a, b).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        zero = xp.zeros((), g.dtype)
        ga = unbroadcast(xp.where(ctx.cond, g, zero), ctx.sa) if ctx.needs[1] else None
        gb = unbroadcast(xp.where(ctx.cond, zero, g), ctx.sb) if ctx.needs[2] else None
        return None, ga, gb


class Clip(Function):
    """clip(x, lo, hi); the gradient passes where lo <= x <= hi (as torch.clamp). The bounds
    are inputs (None for no bound; constants or tensors, which get no gradient here: tensor
    bounds that need one go through maximum/minimum)."""

    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.a, ctx.lo, ctx.hi = a, lo, hi
        return get_array_module(a).clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        xp = get_array_module(g)
        mask = xp.ones(a.shape, bool)
        if ctx.lo is not None:
            mask &= a >= ctx.lo
        if ctx.hi is not None:
            mask &= a <= ctx.hi
        return xp.multiply(g, mask, dtype=g.dtype), None, None


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
    """Change of dtype (differentiable between floating types); the gradient is cast back to
    the input's dtype."""

    saves_inputs = False
    exact_dtype = True

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype)
