"""Non-differentiable primitives the graph needs and ``ember/ops`` does not have yet.

Eager ember computes argmax and comparisons on ``.data`` beside the tape (the dispatcher issue
moves them into ``ember/ops``); a graph needs them as nodes. They follow the ``Function`` form
(forward on arrays; backward gives no gradient), so moving them into ``ember/ops`` later is a
rename. TODO(dispatch): use the ``ember.ops`` versions once they exist.
"""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module


class Argmax(Function):
    """Index of the largest (``minimum=True``: smallest) entry along ``axis`` (int64)."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, a, axis=None, minimum=False):
        xp = get_array_module(a)
        f = xp.argmin if minimum else xp.argmax
        return xp.asarray(f(a, axis=axis)).astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, g):
        return None


_COMPARE = {"equal": "equal", "not_equal": "not_equal", "less": "less",
            "less_equal": "less_equal", "greater": "greater", "greater_equal": "greater_equal"}


class Compare(Function):
    """Elementwise comparison ``how`` (equal, less, greater_equal, ...) giving booleans."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, a, b, how="equal"):
        xp = get_array_module(a, b)
        return getattr(xp, _COMPARE[how])(a, b)

    @staticmethod
    def backward(ctx, g):
        return None, None
