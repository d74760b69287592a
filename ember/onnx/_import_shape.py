"""Shape and data-movement ONNX ops: Shape, Constant(OfShape), Reshape, Flatten, Transpose,
(Un)squeeze, Concat, Gather, Slice, Expand, Split, Pad, Tile, Range.

Shape always returns a NumPy int64 constant, so the shape arithmetic that follows it is
evaluated eagerly for the actual input (a dynamic batch works without shape inference).
"""
from __future__ import annotations

import numpy as np

from .. import ops as _ops
from ..functions import cat
from ._import_registry import array, ints, is_const, register, tensor


@register("Shape")
def _shape(n, x):
    shp = np.asarray(array(x).shape, np.int64)
    if n.opset >= 15:
        start, end = n.get("start", 0), n.get("end")
        shp = shp[start:end]
    return shp


@register("Size")
def _size(n, x):
    return np.asarray(array(x).size, np.int64)


def _check_constant(n):
    known = {"value", "value_float", "value_floats", "value_int", "value_ints"}
    if not known & set(n.attrs):
        n.unsupported(f"only numeric constants are supported (attributes {sorted(n.attrs)})")


@register("Constant", check=_check_constant)
def _constant(n):
    a = n.attrs
    if "value" in a:
        return np.asarray(a["value"])
    if "value_float" in a:
        return np.asarray(a["value_float"], np.float32)
    if "value_floats" in a:
        return np.asarray(a["value_floats"], np.float32)
    if "value_int" in a:
        return np.asarray(a["value_int"], np.int64)
    return np.asarray(a["value_ints"], np.int64)


@register("ConstantOfShape")
def _constant_of_shape(n, shape):
    v = n.get("value")
    v = np.zeros(1, np.float32) if v is None else np.asarray(v)
    return np.full(tuple(ints(shape)), v.reshape(-1)[0], v.dtype)


def _reshape_target(n, old, shape, allowzero):
    """ONNX's rules: 0 copies the input's dim (unless allowzero), -1 is inferred."""
    out = []
    for i, s in enumerate(shape):
        if s == 0 and not allowzero:
            if i >= len(old):
                raise n.error(f"shape {shape} copies dim {i} (0) of an input of shape {old}")
            out.append(old[i])
        else:
            out.append(s)
    return tuple(out)


@register("Reshape")
def _reshape(n, x, shape=None):
    if n.opset < 5:
        shape = n.get("shape")
    target = _reshape_target(n, tuple(x.shape), ints(shape), int(n.get("allowzero", 0)))
    if is_const(x):
        return np.reshape(x, target)
    return tensor(x).reshape(target)


@register("Flatten")
def _flatten(n, x):
    """(prod(shape[:axis]), prod(shape[axis:])); axis may be negative."""
    shp = tuple(x.shape)
    axis = int(n.get("axis", 1))
    axis = axis + len(shp) if axis < 0 else axis
    lead = int(np.prod(shp[:axis], dtype=np.int64))
    target = (lead, int(np.prod(shp[axis:], dtype=np.int64)))
    return np.reshape(x, target) if is_const(x) else tensor(x).reshape(target)


@register("Transpose")
def _transpose(n, x):
    perm = n.get("perm")
    perm = tuple(perm) if perm is not None else tuple(range(len(x.shape)))[::-1]
    if is_const(x):
        return np.transpose(x, perm)
    return _ops.Permute.apply(x, dims=perm)


def _axes(n, axes):
    """``axes`` from the attribute (opset < 13) or the input (13+), or None."""
    if n.opset < 13:
        axes = n.get("axes")
    return None if axes is None else ints(axes)


@register("Squeeze")
def _squeeze(n, x, axes=None):
    axes = _axes(n, axes)
    shp = tuple(x.shape)
    if axes is None:
        target = tuple(s for s in shp if s != 1)
    else:
        drop = {a % len(shp) for a in axes}
        for a in drop:
            if shp[a] != 1:
                raise n.error(f"cannot squeeze dim {a} of size {shp[a]} (shape {shp})")
        target = tuple(s for i, s in enumerate(shp) if i not in drop)
    return np.reshape(x, target) if is_const(x) else tensor(x).reshape(target)


@register("Unsqueeze")
def _unsqueeze(n, x, axes=None):
    axes = _axes(n, axes)
    shp = list(x.shape)
    rank = len(shp) + len(axes)
    for a in sorted(a % rank for a in axes):
        shp.insert(a, 1)
    return np.reshape(x, shp) if is_const(x) else tensor(x).reshape(tuple(shp))


@register("Concat")
def _concat(n, *xs):
    axis = int(n.get("axis"))
    xs = [x for x in xs if x is not None]
    if is_const(*xs):
        return np.concatenate([np.asarray(x) for x in xs], axis=axis)
    return cat([tensor(x) for x in xs], axis)


@register("Gather")
def _gather(n, data, indices):
    """data taken along ``axis`` at ``indices`` (negative indices count from the end); the
    output shape is data.shape[:axis] + indices.shape + data.shape[axis + 1:]."""
    axis = int(n.get("axis", 0))
    shp = tuple(data.shape)
    axis %= len(shp)
    idx = np.asarray(array(indices)).astype(np.int64)
    idx = np.where(idx < 0, idx + shp[axis], idx)
    if is_const(data):
        return np.take(data, idx, axis=axis)
    index = (slice(None),) * axis + (idx,)
    return tensor(data)[index]


@register("Slice")
def _slice(n, x, starts=None, ends=None, axes=None, steps=None):
    if n.opset < 10:
        starts, ends, axes = n.get("starts"), n.get("ends"), n.get("axes")
    starts, ends = ints(starts), ints(ends)
    rank = len(x.shape)
    axes = list(range(len(starts))) if axes is None else [a % rank for a in ints(axes)]
    steps = [1] * len(starts) if steps is None else ints(steps)
    index = [slice(None)] * rank
    for a, s, e, st in zip(axes, starts, ends, steps):
        if st == 0:
            raise n.error("slice step 0")
        dim = x.shape[a]
        # clamp as ONNX does (Python's slicing clamps too; INT64_MAX stays an int)
        s = max(-dim - 1, min(s, dim))
        e = max(-dim - 1, min(e, dim))
        if st < 0 and e < -dim:
            e = None              # "to the front": past index 0 going backwards
        index[a] = slice(s, e, st)
    index = tuple(index)
    return np.asarray(x)[index] if is_const(x) else tensor(x)[index]


@register("Expand")
def _expand(n, x, shape):
    target = tuple(np.broadcast_shapes(tuple(x.shape), tuple(ints(shape))))
    if is_const(x):
        return np.broadcast_to(x, target).copy()
    return tensor(x).expand(target)


@register("Split")
def _split(n, x, split=None):
    axis = int(n.get("axis", 0))
    dim = x.shape[axis]
    if n.opset < 13:
        split = n.get("split")
    if split is None:
        k = n.n_outputs
        size = -(-dim // k) if n.opset >= 18 else dim // k
        sizes = [min(size, dim - i * size) for i in range(k)]
    else:
        sizes = ints(split)
    bounds = np.cumsum([0] + sizes)
    outs = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        index = (slice(None),) * (axis % len(x.shape)) + (slice(int(lo), int(hi)),)
        outs.append(np.asarray(x)[index] if is_const(x) else tensor(x)[index])
    return tuple(outs)


def _check_pad(n):
    if n.get("mode", "constant") != "constant":
        n.unsupported(f"mode={n.get('mode')!r} (only 'constant' padding is supported)")


@register("Pad", check=_check_pad)
def _pad(n, x, pads=None, value=None, axes=None):
    rank = len(x.shape)
    if n.opset < 11:
        pads, value = n.get("pads"), n.get("value", 0.0)
    p = ints(pads)
    ax = list(range(rank)) if axes is None else [a % rank for a in ints(axes)]
    k = len(ax)
    widths = [(0, 0)] * rank
    for j, a in enumerate(ax):
        widths[a] = (p[j], p[j + k])
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise n.error(f"negative pads {p} (cropping) are not supported")
    v = 0.0 if value is None else float(np.asarray(array(value)).reshape(-1)[0]) \
        if np.asarray(array(value)).size else 0.0
    if is_const(x):
        return np.pad(x, widths, constant_values=v)
    return _ops.Pad.apply(x, widths=tuple(widths), value=v)


@register("Tile")
def _tile(n, x, repeats):
    reps = ints(repeats)
    if is_const(x):
        return np.tile(x, reps)
    x = tensor(x)
    # tile = expand a (1, d0, 1, d1, ...) view to (r0, d0, r1, d1, ...) and merge pairs
    shp = tuple(x.shape)
    inter = tuple(v for d in shp for v in (1, d))
    full = tuple(v for r, d in zip(reps, shp) for v in (r, d))
    return x.reshape(inter).expand(full).reshape(tuple(r * d for r, d in zip(reps, shp)))


@register("Range")
def _range(n, start, limit, delta):
    s, l, d = (np.asarray(array(v)).reshape(()) for v in (start, limit, delta))
    return np.arange(s, l, d).astype(s.dtype)
