"""Reductions over axes. Backward spreads the upstream gradient back over the reduced axes."""
import warnings

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module


def normalize_axis(axis, ndim):
    """``axis`` (None, int or sequence, negatives allowed) as a sorted tuple of positive ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise IndexError(f"dimension {a} out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _expand(g, shape, axes, keepdims):
    """Give the reduced gradient back its reduced axes (size 1) so it broadcasts against input."""
    if not keepdims and axes and len(shape):
        g = np.expand_dims(g, axes)
    return g


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class Sum(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axes, ctx.keep = a.shape, normalize_axis(axis, a.ndim), keepdims
        return np.asarray(np.sum(a, axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(_expand(g, ctx.shape, ctx.axes, ctx.keep), ctx.shape)


class Mean(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axes, ctx.keep = a.shape, normalize_axis(axis, a.ndim), keepdims
        return np.asarray(np.mean(a, axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        g = _expand(g, ctx.shape, ctx.axes, ctx.keep) / _count(ctx.shape, ctx.axes)
        return np.broadcast_to(g, ctx.shape)


def _dof(shape, axes, correction, name):
    """N - correction; when <= 0, PyTorch's warning (the result is NaN or inf, as there)."""
    n = _count(shape, axes) - correction
    if n <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=4)
    return n


def _var(a, axes, correction, keepdims, n, f):
    if n > 0:
        return np.asarray(f(a, axis=axes, ddof=correction, keepdims=keepdims))
    with np.errstate(divide="ignore", invalid="ignore"):  # NumPy's own warning is replaced
        ss = np.sum(np.square(a - a.mean(axis=axes, keepdims=True)), axis=axes,
                    keepdims=keepdims)
        out = np.asarray(ss / 0.0)
    return np.sqrt(out) if f is np.std else out


class Var(Function):
    """Variance with Bessel's ``correction`` (1 = unbiased, PyTorch's default; 0 = NumPy's).
    d var / dx_i = 2 (x_i - mean) / (N - correction). N - correction <= 0 warns and gives NaN
    (value and gradient), as PyTorch."""

    @staticmethod
    def forward(ctx, a, axis=None, correction=1, keepdims=False):
        axes = normalize_axis(axis, a.ndim)
        n = _dof(a.shape, axes, correction, "var")
        ctx.a, ctx.axes, ctx.keep, ctx.n = a, axes, keepdims, n
        return _var(a, axes, correction, keepdims, n, np.var)

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        centered = a - a.mean(axis=ctx.axes, keepdims=True)
        scale = 2.0 / ctx.n if ctx.n > 0 else np.nan
        return _expand(g, a.shape, ctx.axes, ctx.keep) * scale * centered


class Std(Function):
    """Standard deviation; d std / dx_i = (x_i - mean) / ((N - correction) std), and 0 where
    std = 0 (a constant slice, as PyTorch: the limit of the subgradient, not 0/0)."""

    saves_output = True

    @staticmethod
    def forward(ctx, a, axis=None, correction=1, keepdims=False):
        axes = normalize_axis(axis, a.ndim)
        n = _dof(a.shape, axes, correction, "std")
        out = _var(a, axes, correction, keepdims, n, np.std)
        ctx.a, ctx.axes, ctx.keep, ctx.n, ctx.out = a, axes, keepdims, n, out
        return out

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        centered = a - a.mean(axis=ctx.axes, keepdims=True)
        std = _expand(ctx.out, a.shape, ctx.axes, ctx.keep)
        if ctx.n <= 0:
            return _expand(g, a.shape, ctx.axes, ctx.keep) * np.nan * centered
        with np.errstate(divide="ignore", invalid="ignore"):
            d = _expand(g, a.shape, ctx.axes, ctx.keep) * centered / (ctx.n * std)
        return np.where(std == 0, 0, d).astype(d.dtype, copy=False)


class Amax(Function):
    """Max over axes; the gradient is shared evenly among tied maxima."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, minimum=False):
        axes = normalize_axis(axis, a.ndim)
        f = np.min if minimum else np.max
        out = np.asarray(f(a, axis=axes, keepdims=keepdims))
        ctx.a, ctx.axes, ctx.keep, ctx.out = a, axes, keepdims, out
        return out

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        hit = a == _expand(ctx.out, a.shape, ctx.axes, ctx.keep)
        count = hit.sum(axis=ctx.axes, keepdims=True)
        return np.where(hit, _expand(g, a.shape, ctx.axes, ctx.keep) / count, 0).astype(g.dtype)


class TakeAlongAxis(Function):
    """``take_along_axis(a, index, axis)`` (``index`` shaped like ``a`` with size 1 on
    ``axis``), squeezed unless ``keepdims``: the values of ``max(dim)``/``min(dim)`` at their
    returned indices, so the whole gradient goes to the returned element, ties or not (as
    PyTorch). ``index`` is a per-call input, not an attribute."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, a, index, axis=0, keepdims=False):
        xp = get_array_module(a, index)
        ctx.shape, ctx.axis, ctx.keep, ctx.index = a.shape, axis, keepdims, index
        out = xp.take_along_axis(a, index, axis)
        return out if keepdims else xp.squeeze(out, axis)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        out = xp.zeros(ctx.shape, g.dtype)
        xp.put_along_axis(out, ctx.index, g if ctx.keep else xp.expand_dims(g, ctx.axis),
                          ctx.axis)
        return out, None


class LogSumExp(Function):
    """log sum exp(x), computed as m + log sum exp(x - m) with m = max(x) so it never overflows;
    the gradient is softmax(x) times the upstream gradient."""

    saves_output = True

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axis(axis, a.ndim)
        if a.dtype.kind == "f":  # -inf over an empty axis (as PyTorch), not a ValueError
            m = np.max(a, axis=axes, keepdims=True, initial=-np.inf)
        else:
            m = np.max(a, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # log 0 = -inf: all -inf (or empty) slices
            out = np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m
        ctx.a, ctx.axes, ctx.keep, ctx.full = a, axes, keepdims, out
        return out if keepdims else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        return _expand(g, ctx.a.shape, ctx.axes, ctx.keep) * np.exp(ctx.a - ctx.full)


class Prod(Function):
    """Product over one axis (or all). The gradient for x_i is the product of all the others,
    computed with exclusive cumulative products so zeros in x are handled exactly."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.a, ctx.axis, ctx.keep = a, axis, keepdims
        return np.asarray(np.prod(a, axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        a, axis = ctx.a, ctx.axis
        if a.size == 0:
            return np.zeros(a.shape, g.dtype)
        if axis is None:
            flat = a.reshape(-1)
            others = _exclusive_prod(flat, 0).reshape(a.shape)
            return others * g.reshape(())
        axis = axis % a.ndim
        others = _exclusive_prod(a, axis)
        return others * _expand(g, a.shape, (axis,), ctx.keep)


def _exclusive_prod(a, axis):
    """prod_{j != i} a_j along ``axis`` = (prefix product before i) * (suffix product after i)."""
    a = np.moveaxis(a, axis, -1)
    ones = np.ones(a.shape[:-1] + (1,), a.dtype)
    left = np.cumprod(np.concatenate([ones, a[..., :-1]], -1), -1)
    right = np.cumprod(np.concatenate([ones, a[..., :0:-1]], -1), -1)[..., ::-1]
    return np.moveaxis(left * right, -1, axis)
