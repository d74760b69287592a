"""Indexing: basic slicing, integer-array and boolean-mask selection.

Backward scatters the gradient into zeros of the input's shape; with integer arrays an element
may be picked more than once (``x[[0, 0]]``), so contributions are added with ``add.at`` (unbuffered).
"""
import numpy as np

from ..backend import get_array_module
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
    return any(_is_array(i) and i.dtype != bool for i in items)


def _is_array(i):
    """An index array of any array library (NumPy scalars are plain integer indices)."""
    return hasattr(i, "shape") and hasattr(i, "dtype") and not isinstance(i, np.generic)


class Slot:
    """Placeholder in a static index template for the ``k``-th index array input."""

    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __repr__(self):
        return f"Slot({self.k})"

    def __eq__(self, other):
        return isinstance(other, Slot) and other.k == self.k

    def __hash__(self):
        return hash(("Slot", self.k))


def _fill(template, arrays):
    """The concrete index: ``template`` with each Slot replaced by its array."""
    if not arrays:
        return template
    if isinstance(template, Slot):
        return arrays[template.k]
    return tuple(arrays[i.k] if isinstance(i, Slot) else i for i in template)


class GetItem(Function):
    """a[index]. Index arrays (integer or bool, which change from call to call) are inputs
    after ``a``; the attribute ``index`` is the static template (ints, slices, None,
    Ellipsis, and a :class:`Slot` where each array goes)."""

    saves_inputs = False
    view = True

    @staticmethod
    def forward(ctx, a, *arrays, index=None):
        index = _fill(index, arrays)
        ctx.shape, ctx.dtype, ctx.index, ctx.n = a.shape, a.dtype, index, len(arrays)
        try:
            out = a[index]
            if isinstance(out, np.generic):
                # a full integer index gives a NumPy scalar; a trailing Ellipsis gives the same
                # element as a 0-d view instead, so in-place changes reach the base (as PyTorch)
                out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
            return out
        except IndexError as e:
            raise IndexError(f"index {_describe(index)} is invalid for a tensor of shape "
                             f"{a.shape}: {e}") from None

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        out = xp.zeros(ctx.shape, g.dtype)
        if _has_repeats(ctx.index):
            xp.add.at(out, ctx.index, g)
        else:
            out[ctx.index] = g
        return (out,) + (None,) * ctx.n if ctx.n else out


def _describe(index):
    items = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(f"array{tuple(i.shape)}" if _is_array(i) else repr(i)
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
        return np.asarray(i)  # Python lists are host data
    return i


def split_index(index, tensor_type):
    """(template, arrays): the static part of an index and its arrays (tensors kept as
    tensors, lists and ranges made arrays), for ``GetItem.apply(a, *arrays, index=template)``."""
    if is_basic(index):
        return index, ()
    arrays = []

    def one(i):
        if isinstance(i, (list, range)):
            i = np.asarray(i)  # Python lists are host data
        if isinstance(i, tensor_type) or _is_array(i):
            arrays.append(i)
            return Slot(len(arrays) - 1)
        return i

    if isinstance(index, tuple):
        return tuple(one(i) for i in index), tuple(arrays)
    return one(index), tuple(arrays)
