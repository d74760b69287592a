"""Shape primitives: reshape, permute, expand, concatenate, stack, pad.

They move values without changing them, so each backward rule moves the gradient back the same way.
"""
import numpy as np

from ..backend import get_array_module
from .function import Function
from .elementwise import _shape, unbroadcast


class Reshape(Function):
    saves_inputs = False
    view = True

    @staticmethod
    def forward(ctx, a, shape=None):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                             f"({a.size} elements) into shape {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    saves_inputs = False
    view = True

    @staticmethod
    def forward(ctx, a, dims=None):
        if dims is None:
            dims = tuple(range(a.ndim))[::-1]
        dims = tuple(d % a.ndim for d in dims) if a.ndim else ()
        if sorted(dims) != list(range(a.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {a.ndim} dims of "
                             f"a tensor of shape {a.shape}")
        ctx.inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inverse)


class Expand(Function):
    """Broadcast to a larger shape without copying; backward sums over the expanded axes."""

    saves_inputs = False
    view = True

    @staticmethod
    def forward(ctx, a, shape=None):
        xp = get_array_module(a)
        ctx.shape = a.shape
        try:
            return xp.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {a.shape} to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape)


class Concatenate(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        try:
            out = get_array_module(*arrays).concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(_shape(a)) for a in arrays)
            raise ValueError(f"cat: tensors must have the same shape except in dim {axis}; "
                             f"got {shapes}") from None
        ctx.axis = axis % out.ndim
        ctx.bounds = np.cumsum([_shape(a)[ctx.axis] for a in arrays])[:-1].tolist()
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return tuple(xp.split(g, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    saves_inputs = False

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        try:
            out = get_array_module(*arrays).stack(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(_shape(a)) for a in arrays)
            raise ValueError(f"stack: all tensors must have the same shape; got {shapes}") from None
        ctx.axis = axis % out.ndim
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return tuple(xp.moveaxis(g, ctx.axis, 0))


class Pad(Function):
    """Constant padding; ``widths`` is NumPy's per-axis ((before, after), ...)."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, a, widths=None, value=0.0):
        xp = get_array_module(a)
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return xp.pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.slices]
