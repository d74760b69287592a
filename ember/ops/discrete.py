"""Primitives with discrete results and no gradient: comparisons, logic, integer division,
isnan / isfinite, any / all, argmax / argmin, one-hot. (Rounding, with its zero gradient, is
``elementwise.PiecewiseConstant``.)

They are primitives (not work on ``.data`` beside the graph) so a trace sees them: a mask
computed from a batch is recomputed from the next batch when the graph is replayed.
``differentiable = False``: their outputs never record a node.
"""
import numpy as np

from ..backend import get_array_module
from .function import Function


def _primitive(name, compute, nargs, doc):
    """A non-differentiable primitive ``name`` computing ``compute(xp, *arrays)``."""
    if nargs == 1:
        def forward(ctx, a):
            return compute(get_array_module(a), a)
    else:
        def forward(ctx, a, b):
            return compute(get_array_module(a, b), a, b)
    return type(name, (Function,), {"__doc__": doc, "__module__": __name__,
                                    "forward": staticmethod(forward), "saves_inputs": False,
                                    "differentiable": False})


Equal = _primitive("Equal", lambda xp, a, b: xp.equal(a, b), 2, "a == b")
NotEqual = _primitive("NotEqual", lambda xp, a, b: xp.not_equal(a, b), 2, "a != b")
Less = _primitive("Less", lambda xp, a, b: xp.less(a, b), 2, "a < b")
LessEqual = _primitive("LessEqual", lambda xp, a, b: xp.less_equal(a, b), 2, "a <= b")
Greater = _primitive("Greater", lambda xp, a, b: xp.greater(a, b), 2, "a > b")
GreaterEqual = _primitive("GreaterEqual", lambda xp, a, b: xp.greater_equal(a, b), 2, "a >= b")
BitwiseAnd = _primitive("BitwiseAnd", lambda xp, a, b: xp.bitwise_and(a, b), 2, "a & b")
BitwiseOr = _primitive("BitwiseOr", lambda xp, a, b: xp.bitwise_or(a, b), 2, "a | b")
BitwiseXor = _primitive("BitwiseXor", lambda xp, a, b: xp.bitwise_xor(a, b), 2, "a ^ b")
BitwiseNot = _primitive("BitwiseNot", lambda xp, a: xp.invert(a), 1, "~a")
FloorDivide = _primitive("FloorDivide", lambda xp, a, b: xp.floor_divide(a, b), 2, "a // b")
Remainder = _primitive("Remainder", lambda xp, a, b: xp.remainder(a, b), 2, "a % b (sign of b)")
IsNan = _primitive("IsNan", lambda xp, a: xp.isnan(a), 1, "a is NaN")
IsFinite = _primitive("IsFinite", lambda xp, a: xp.isfinite(a), 1, "a is neither NaN nor +-Inf")


class Any(Function):
    """Whether any element is true (0-d bool)."""

    saves_inputs = False
    differentiable = False

    @staticmethod
    def forward(ctx, a):
        return get_array_module(a).asarray(a.any())


class All(Function):
    """Whether every element is true (0-d bool)."""

    saves_inputs = False
    differentiable = False

    @staticmethod
    def forward(ctx, a):
        return get_array_module(a).asarray(a.all())


class ArgMax(Function):
    """Index of the first maximum (``minimum=True``: minimum) along ``axis`` (None: of the
    flattened array), int64."""

    saves_inputs = False
    differentiable = False

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, minimum=False):
        xp = get_array_module(a)
        f = xp.argmin if minimum else xp.argmax
        return xp.asarray(f(a, axis=axis, keepdims=keepdims)).astype(np.int64, copy=False)


class OneHot(Function):
    """Integer indices (any shape) -> one-hot of ``dtype`` with a new last dim of size
    ``num_classes``: out[..., c] = (indices[...] == c)."""

    saves_inputs = False
    differentiable = False

    @staticmethod
    def forward(ctx, indices, num_classes=None, dtype=np.int64):
        xp = get_array_module(indices)
        return (indices[..., None] == xp.arange(num_classes)).astype(dtype)
