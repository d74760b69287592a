"""Reductions over axes. Backward spreads the upstream gradient back over the reduced axes."""
import warnings
from collections import namedtuple

import numpy as np

from ..backend import get_array_module
from .function import Function

# what max(dim)/min(dim) return (PyTorch's torch.return_types.max): values and their indices
MinMaxResult = namedtuple("MinMaxResult", ["values", "indices"])
MinMaxResult.__module__ = "ember.ops"  # its public home, as before it moved here


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
        g = get_array_module(g).expand_dims(g, axes)
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
        xp = get_array_module(a)
        ctx.shape, ctx.axes, ctx.keep = a.shape, normalize_axis(axis, a.ndim), keepdims
        return xp.asarray(xp.sum(a, axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return xp.broadcast_to(_expand(g, ctx.shape, ctx.axes, ctx.keep), ctx.shape)


class Mean(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        xp = get_array_module(a)
        ctx.shape, ctx.axes, ctx.keep = a.shape, normalize_axis(axis, a.ndim), keepdims
        return xp.asarray(xp.mean(a, axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        g = _expand(g, ctx.shape, ctx.axes, ctx.keep) / _count(ctx.shape, ctx.axes)
        return xp.broadcast_to(g, ctx.shape)


def _dof(shape, axes, correction, name):
    """N - correction; when <= 0, PyTorch's warning (the result is NaN or inf, as there)."""
    n = _count(shape, axes) - correction
    if n <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=4)
    return n


def _var(a, axes, correction, keepdims, n, f):
    """var or std (``f``: "var" or "std") with ``correction``; NaN/inf when n <= 0."""
    xp = get_array_module(a)
    if n > 0:
        return xp.asarray(getattr(xp, f)(a, axis=axes, ddof=correction, keepdims=keepdims))
    with np.errstate(divide="ignore", invalid="ignore"):  # NumPy's own warning is replaced
        ss = xp.sum(xp.square(a - a.mean(axis=axes, keepdims=True)), axis=axes,
                    keepdims=keepdims)
        out = xp.asarray(ss / 0.0)
    return xp.sqrt(out) if f == "std" else out


class Var(Function):
    """Variance with Bessel's ``correction`` (1 = unbiased, PyTorch's default; 0 = NumPy's).
    d var / dx_i = 2 (x_i - mean) / (N - correction). N - correction <= 0 warns and gives NaN
    (value and gradient), as PyTorch."""

    @staticmethod
    def forward(ctx, a, axis=None, correction=1, keepdims=False):
        axes = normalize_axis(axis, a.ndim)
        n = _dof(a.shape, axes, correction, "var")
        ctx.a, ctx.axes, ctx.keep, ctx.n = a, axes, keepdims, n
        return _var(a, axes, correction, keepdims, n, "var")

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
        out = _var(a, axes, correction, keepdims, n, "std")
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
        return get_array_module(g).where(std == 0, 0, d).astype(d.dtype, copy=False)


class Amax(Function):
    """Max over axes; the gradient is shared evenly among tied maxima."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, minimum=False):
        xp = get_array_module(a)
        axes = normalize_axis(axis, a.ndim)
        f = xp.min if minimum else xp.max
        out = xp.asarray(f(a, axis=axes, keepdims=keepdims))
        ctx.a, ctx.axes, ctx.keep, ctx.out = a, axes, keepdims, out
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        a = ctx.a
        hit = a == _expand(ctx.out, a.shape, ctx.axes, ctx.keep)
        count = hit.sum(axis=ctx.axes, keepdims=True)
        return xp.where(hit, _expand(g, a.shape, ctx.axes, ctx.keep) / count, 0).astype(g.dtype)


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
        xp = get_array_module(a)
        axes = normalize_axis(axis, a.ndim)
        if a.dtype.kind == "f":  # -inf over an empty axis (as PyTorch), not a ValueError
            m = xp.max(a, axis=axes, keepdims=True, initial=-np.inf)
        else:
            m = xp.max(a, axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # log 0 = -inf: all -inf (or empty) slices
            out = xp.log(xp.sum(xp.exp(a - m), axis=axes, keepdims=True)) + m
        ctx.a, ctx.axes, ctx.keep, ctx.full = a, axes, keepdims, out
        return out if keepdims else xp.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return _expand(g, ctx.a.shape, ctx.axes, ctx.keep) * xp.exp(ctx.a - ctx.full)


class Prod(Function):
    """Product over one axis (or all). The gradient for x_i is the product of all the others,
    computed with exclusive cumulative products so zeros in x are handled exactly."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        xp = get_array_module(a)
        ctx.a, ctx.axis, ctx.keep = a, axis, keepdims
        return xp.asarray(xp.prod(a, axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        a, axis = ctx.a, ctx.axis
        if a.size == 0:
            return get_array_module(g).zeros(a.shape, g.dtype)
        if axis is None:
            flat = a.reshape(-1)
            others = _exclusive_prod(flat, 0).reshape(a.shape)
            return others * g.reshape(())
        axis = axis % a.ndim
        others = _exclusive_prod(a, axis)
        return others * _expand(g, a.shape, (axis,), ctx.keep)


def _exclusive_prod(a, axis):
    """prod_{j != i} a_j along ``axis`` = (prefix product before i) * (suffix product after i)."""
    xp = get_array_module(a)
    a = xp.moveaxis(a, axis, -1)
    ones = xp.ones(a.shape[:-1] + (1,), a.dtype)
    left = xp.cumprod(xp.concatenate([ones, a[..., :-1]], -1), -1)
    right = xp.cumprod(xp.concatenate([ones, a[..., :0:-1]], -1), -1)[..., ::-1]
    return xp.moveaxis(left * right, -1, axis)
