"""ONNX spellings of ember's indexing primitives: ``GetItem`` (basic slicing, integer and
boolean index arrays) and ``TakeAlongAxis``.

A template is walked item by item: a slice becomes ``Slice``, an integer ``Gather`` with a 0-d
index (the axis goes), ``None`` an ``Unsqueeze``, one index array ``Gather`` (its dims replace
the axis, as NumPy), a boolean mask ``Compress``, and several index arrays on the leading dims
one ``GatherND``. With dynamic axes, positions that move with a dim's size become
end-relative.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ops.index import Slot
from ._export_ops import as_index, rule

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


@rule(ops.GetItem, dynamic_attrs=("index",))
def _getitem(c):
    template = c.attrs.get("index")
    items = template if isinstance(template, tuple) else (template,)
    ndim = c.ndim(0)

    def is_bool(it):
        return isinstance(it, Slot) and c.dtype(1 + it.k) == np.bool_

    consumed = sum(c.ndim(1 + it.k) if is_bool(it) else 1 for it in items
                   if it is not None and it is not Ellipsis)
    advanced = [k for k, it in enumerate(items) if isinstance(it, Slot)]
    if advanced:
        spread = [k for k, it in enumerate(items) if isinstance(it, (Slot, int, np.integer))
                  and not isinstance(it, bool)]
        if spread != list(range(spread[0], spread[-1] + 1)):
            raise c.fail(f"index {template!r}: index arrays separated by slices (NumPy moves "
                         "their dims to the front) are not exported")
        if len(advanced) > 1:
            return _gather_nd(c, items, ndim)
    items = _end_relative(c, items, consumed)
    x, axis = c.inp(0), 0
    for it in items:
        if it is None:
            x = c.b.unsqueeze(x, [axis])
            axis += 1
        elif it is Ellipsis:
            axis += ndim - consumed
        elif isinstance(it, slice):
            if it != slice(None):
                x = _slice(c, x, it, axis)
            axis += 1
        elif isinstance(it, (int, np.integer)):
            x = c.b.node("Gather", [x, c.b.const(np.int64(it))], axis=axis)
        elif is_bool(it):
            k = c.ndim(1 + it.k)
            mask = c.inp(1 + it.k)
            if k > 1:
                if axis != 0:
                    raise c.fail("a multi-dimensional boolean mask after other indices is not "
                                 "exported")
                rest = list(c.shape(0)[k:])
                x = c.b.node("Reshape", [x, c.b.ints([-1] + rest)])
                mask = c.b.node("Reshape", [mask, c.b.ints([-1])])
            x = c.b.node("Compress", [x, mask], axis=axis)
            axis += 1
        elif isinstance(it, Slot):
            x = c.b.node("Gather", [x, as_index(c, 1 + it.k)], axis=axis)
            axis += c.ndim(1 + it.k)
        else:
            raise c.fail(f"index item {it!r} is not exported")
    return x


def _end_relative(c, items, consumed):
    """With dynamic axes, index positions that move with a dim's size (``out[:T]``,
    ``out[T]`` on T + 1 rows) become positions from the end (``[:-1]``, ``[-1]``); any other
    change is an error."""
    alt = c.call.alt
    if alt is None:
        return items
    alt_items = alt.attrs.get("index")
    alt_items = alt_items if isinstance(alt_items, tuple) else (alt_items,)
    shape, alt_shape = c.shape(0), c.alt_shape(0)
    out, src = [], 0

    def rel(v, v2, n, n2):
        if v is None or v == v2:      # a fixed position from the start (or end)
            return v
        if v >= 0 and v2 >= 0 and v - n == v2 - n2 and v - n < 0:
            return v - n
        raise c.fail(f"index {v} changes with a dynamic axis ({v2} when the axis grows) "
                     "and is not a fixed distance from its end")

    for it, it2 in zip(items, alt_items):
        if it is None or isinstance(it, Slot) and c.dtype(1 + it.k) != np.bool_:
            out.append(it)
            src += 0 if it is None else 1
            continue
        if it is Ellipsis:
            out.append(it)
            src += len(shape) - consumed
            continue
        if isinstance(it, Slot):
            out.append(it)
            src += c.ndim(1 + it.k)
            continue
        n, n2 = shape[src], alt_shape[src]
        if isinstance(it, slice):
            stop = it.stop
            if it.step is not None and it.step < 0 or it.step != it2.step:
                if it != it2:
                    raise c.fail(f"slice {it} changes with a dynamic axis ({it2})")
            else:
                # a stop at or past the end of a growing dim means "to the end"
                if stop is not None and stop >= n and it2.stop is not None and it2.stop >= n2:
                    stop = None
                elif stop is not None:
                    stop = rel(stop, it2.stop, n, n2)
                it = slice(rel(it.start, it2.start, n, n2), stop, it.step)
            out.append(it)
        else:
            out.append(rel(int(it), int(it2), n, n2))
        src += 1
    return tuple(out)


def _slice(c, x, s, axis):
    step = 1 if s.step is None else int(s.step)
    start = s.start if s.start is not None else (0 if step > 0 else _INT64_MAX)
    stop = s.stop if s.stop is not None else (_INT64_MAX if step > 0 else _INT64_MIN)
    return c.b.node("Slice", [x, c.b.ints([start]), c.b.ints([stop]), c.b.ints([axis]),
                              c.b.ints([step])])


def _gather_nd(c, items, ndim):
    """Several index arrays on the leading dims: GatherND over their broadcast."""
    arrays = [k for k, it in enumerate(items) if isinstance(it, Slot)]
    if arrays[0] != 0 or any(not isinstance(items[k], Slot) for k in range(len(arrays))) or \
            any(it not in (slice(None), Ellipsis) for it in items[len(arrays):]):
        raise c.fail("several index arrays are exported only when they index the leading dims")
    slots = [items[k] for k in arrays]
    if any(c.dtype(1 + s.k) == np.bool_ for s in slots):
        raise c.fail("boolean masks mixed with index arrays are not exported")
    shape = np.broadcast_shapes(*[c.shape(1 + s.k) for s in slots])
    parts = []
    for s in slots:
        idx = as_index(c, 1 + s.k)
        if c.dtype(1 + s.k) == np.int32:
            idx = c.b.cast(idx, np.int64)
        if c.shape(1 + s.k) != shape:
            idx = c.b.node("Expand", [idx, c.b.ints(shape)])
        parts.append(c.b.unsqueeze(idx, [len(shape)]))
    indices = c.b.node("Concat", parts, axis=len(shape))
    return c.b.node("GatherND", [c.inp(0), indices])


@rule(ops.TakeAlongAxis)
def _take_along(c):
    axis = int(c.attrs.get("axis", 0)) % c.ndim(0)
    y = c.b.node("GatherElements", [c.inp(0), as_index(c, 1)], axis=axis)
    return y if c.attrs.get("keepdims") else c.b.squeeze(y, [axis])
