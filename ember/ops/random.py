"""Random primitives: pure functions of an explicit generator state.

The state (an array, see ``ember.random.get_state``) is an input and the advanced state is an
output, so the primitive has no hidden state: a recorded graph replayed with the new state
draws new numbers, and eager calls draw exactly what ``ember.random``'s generator would.
"""
from _thread import _local  # threading.local (threading.py itself is not needed)

import numpy as np

from .. import random as _random
from .function import Function

_scratch = _local()


def _generator(state):
    """A NumPy generator positioned at ``state`` (one per thread, reused: cheap)."""
    g = getattr(_scratch, "g", None)
    if g is None:
        g = _scratch.g = np.random.Generator(np.random.PCG64(0))
    g.bit_generator.state = _random.state_dict(state)
    return g


def _state_of(g):
    st = g.bit_generator.state
    s, inc = st["state"]["state"], st["state"]["inc"]
    m = (1 << 64) - 1
    return np.array([s >> 64, s & m, inc >> 64, inc & m, st["has_uint32"], st["uinteger"]],
                    np.uint64)


class DropoutMask(Function):
    """Inverted-dropout mask of ``shape``: 1/(1-p) where a uniform draw u >= p, else 0, in
    ``dtype``. Inputs: the generator state; outputs: (mask, new state)."""

    saves_inputs = False
    differentiable = False

    @staticmethod
    def forward(ctx, state, shape=(), p=0.5, dtype=np.float32):
        g = _generator(state)
        keep = g.random(shape, dtype=np.float32) >= p
        mask = keep.astype(dtype) * np.asarray(1.0 / (1.0 - p), dtype)
        return mask, _state_of(g)
