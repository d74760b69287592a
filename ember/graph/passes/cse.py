"""Common-subexpression elimination: two nodes running the same rule on the same inputs with
the same attributes compute the same value, so the later one is dropped and its readers read the
first (e.g. ``x * y`` written twice, or the backward of one forward built by two
``gradients`` calls). Stateful nodes (random draws, variable reads, assigns, feeds) never merge.
"""
from __future__ import annotations

import numpy as np

from .dce import Program

_PURE = {"fn", "grad", "const", "ones_like"}


def _freeze(x):
    if isinstance(x, np.ndarray):
        if x.size <= 64:
            return ("nd", x.dtype.str, x.shape, x.tobytes())
        return ("id", id(x))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__,) + tuple(_freeze(i) for i in x)
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, slice):
        return ("slice", x.start, x.stop, x.step)
    hash(x)
    return x


def _key(n):
    try:
        return (n.kind, n.op, tuple(id(v) for v in n.inputs),
                tuple(sorted((k, id(v)) for k, v in n.dyn_attrs.items())), _freeze(n.attrs),
                tuple(id(c) for c in n.control))  # control dependencies are part of an op
    except TypeError:  # an unhashable attribute: leave the node alone
        return None


def eliminate_common(prog: Program) -> int:
    """Merge duplicate pure nodes; returns how many were removed."""
    seen: dict = {}
    dropped = set()
    for n in prog.nodes:
        if n.kind not in _PURE:
            continue
        key = _key(n)
        if key is None:
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = n
            continue
        for old, new in zip(n.outputs, first.outputs):
            prog.replace(old, new)
        for m in prog.nodes:  # backward nodes of the dropped forward use the kept one's context
            if m.kind == "grad" and m.attrs["forward"] is n:
                m.attrs["forward"] = first
        dropped.add(n)
    prog.graph.nodes = [n for n in prog.nodes if n not in dropped]
    return len(dropped)
