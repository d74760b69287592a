"""Shape and dtype inference at graph construction, from the primitive's own forward rule.

There are no per-op shape functions to keep in step with the ops. Broadcasting elementwise ops
use the symbolic broadcast rule below (so an unknown dim meets a known one correctly); every
other op is inferred by running its forward rule once on small dummy arrays of the input shapes
(ones for floats, zeros for integers). Unknown dims are substituted by 2, and, when there are
any, a second run with 3 tells which output dims follow them: those become unknown (None).
An input of unknown rank gives an output of unknown rank (dtype from a 0-d run when it works).

A rule that fails on the dummies is a shape error of the graph being built: it is raised then,
naming the op and the input shapes.
"""
from __future__ import annotations

import numpy as np

from .ir import fmt_shape

_CACHE: dict = {}


def _dummy(shape, dtype, fill):
    key = (shape, dtype, fill)
    a = _CACHE.get(key)
    if a is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        a = np.full(shape, fill if dtype.kind in "fc" else 0, dtype)
        a.flags.writeable = False  # a rule writing into its input would be a bug worth seeing
        if a.size <= 1 << 16:  # keep small ones only: big graphs must not pin big dummies
            _CACHE[key] = a
    return a


class GraphShapeError(ValueError):
    """An op's inputs do not fit together (raised while the graph is built)."""


def _describe(name, values, dyn):
    parts = [fmt_shape(v.shape) for v in values]
    parts += [f"{k}={fmt_shape(v.shape)}" for k, v in dyn.items()]
    return f"{name}: input shapes " + " and ".join(parts)


def broadcast(name, shapes):
    """Symbolic NumPy broadcasting with None dims; raises naming the op and both shapes."""
    if any(s is None for s in shapes):
        return None
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-nd, 0):
        dims = [s[i] for s in shapes if len(s) >= -i]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise GraphShapeError(f"{name}: shapes " + " and ".join(fmt_shape(s) for s in shapes)
                                  + " do not broadcast (each dim must match or be 1, aligned "
                                  "from the right)")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def _run(op, values, attrs, dyn, size, fill=1):
    def arr(v):
        shape = tuple(size if d is None else d for d in v.shape) if v.shape is not None else ()
        return _dummy(shape, v.dtype, fill)

    ctx = op.__new__(op)
    ctx.needs = (True,) * len(values)
    arrays = [arr(v) for v in values]
    kw = dict(attrs)
    kw.update({k: arr(v) for k, v in dyn.items()})
    with np.errstate(all="ignore"):
        out = op.forward(ctx, *arrays, **kw)
    return np.asarray(out)


def infer(op, name, values, attrs, dyn=None, elementwise=False):
    """(shape, dtype) of the output of ``op`` applied to ``values`` (graph Values)."""
    dyn = dyn or {}
    allv = list(values) + list(dyn.values())
    unknown_rank = any(v.shape is None for v in allv)
    if elementwise:
        shape = broadcast(name, [v.shape for v in values])
        try:
            out = _run(op, [_scalar_like(v) for v in values], attrs, {}, 2)
            return shape, out.dtype
        except Exception as e:  # the dtype rule itself refused (e.g. an int to a float op)
            raise TypeError(f"{name}: cannot apply to dtypes "
                            f"{' and '.join(str(v.dtype) for v in values)}: {e}") from None
    if unknown_rank:
        try:
            out = _run(op, [_scalar_like(v) for v in values], attrs,
                       {k: _scalar_like(v) for k, v in dyn.items()}, 2)
            dtype = out.dtype
        except Exception:
            dtype = values[0].dtype if values else None
        return None, dtype
    has_none = any(d is None for v in allv for d in v.shape)
    try:
        a = _run(op, values, attrs, dyn, 2)
        if not has_none:
            return tuple(a.shape), a.dtype
        b = _run(op, values, attrs, dyn, 3)
    except (ValueError, IndexError, TypeError) as e:
        raise GraphShapeError(f"{_describe(name, values, dyn)}: {e}") from None
    if a.ndim != b.ndim:
        return None, a.dtype
    return tuple(x if x == y else None for x, y in zip(a.shape, b.shape)), a.dtype


class _scalar_like:
    """A stand-in Value of one element with the same dtype (for dtype-only inference)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, v):
        self.shape = (1,)  # not 0-d: some rules write into -a, a NumPy scalar when a is 0-d
        self.dtype = v.dtype
