"""Indexing: basic slicing, integer-array and boolean-mask selection.

Backward scatters the gradient into zeros of the input's shape; with integer arrays an element
may be picked more than once (``x[[0, 0]]``), so contributions are added with ``np.add.at``.
"""
import numpy as np

from .function import Function


def is_basic(index):
    """True when ``index`` is NumPy basic indexing (ints, slices, None, Ellipsis): a view,
    each element selected at most once."""
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if not (i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))):
            return False
    return True


def _has_repeats(index):
    """Whether an advanced index could pick an element twice (bool masks cannot)."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype != bool for i in items)


class GetItem(Function):
    saves_inputs = False
    view = True

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        try:
            out = a[index]
            if not isinstance(out, np.ndarray):
                # a full integer index gives a NumPy scalar; a trailing Ellipsis gives the same
                # element as a 0-d view instead, so in-place changes reach the base (as PyTorch)
                out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
            return out
        except IndexError as e:
            raise IndexError(f"index {_describe(index)} is invalid for a tensor of shape "
                             f"{a.shape}: {e}") from None

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, g.dtype)
        if _has_repeats(ctx.index):
            np.add.at(out, ctx.index, g)
        else:
            out[ctx.index] = g
        return out


def _describe(index):
    items = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(f"array{tuple(i.shape)}" if isinstance(i, np.ndarray) else repr(i)
                           for i in items) + "]"


def normalize_index(index, tensor_type):
    """Turn Tensors, lists and ranges inside an index into arrays NumPy indexes with."""
    if isinstance(index, tuple):
        return tuple(_norm_one(i, tensor_type) for i in index)
    return _norm_one(index, tensor_type)


def _norm_one(i, tensor_type):
    if isinstance(i, tensor_type):
        return i.data
    if isinstance(i, (list, range)):
        return np.asarray(i)
    return i
