"""The Reduce* ops (axes as an attribute before opset 13 / 18, as an input after; keepdims;
noop_with_empty_axes) and ArgMax / ArgMin."""
from __future__ import annotations

import numpy as np

from ._import_registry import array, ints, is_const, register, tensor

#: the opset from which ``axes`` is an input rather than an attribute
_AXES_INPUT_FROM = {"ReduceSum": 13}


@register("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
          "ReduceLogSumExp", "ReduceSumSquare")
def _reduce(n, x, axes=None):
    if n.opset < _AXES_INPUT_FROM.get(n.op_type, 18):
        axes = n.get("axes")
    axes = None if axes is None else ints(axes)
    keep = bool(n.get("keepdims", 1))
    if not axes:
        if n.get("noop_with_empty_axes", 0):
            return x
        axes = None
    ax = None if axes is None else tuple(axes)
    kind = n.op_type
    if is_const(x):
        x = np.asarray(x)
        fn = {"ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max,
              "ReduceMin": np.min, "ReduceProd": np.prod}.get(kind)
        if fn is not None:
            return np.asarray(fn(x, axis=ax, keepdims=keep)).astype(x.dtype)
    x = tensor(x)
    if kind == "ReduceMean":
        return x.mean(ax, keepdim=keep)
    if kind == "ReduceSum":
        return x.sum(ax, keepdim=keep)
    if kind == "ReduceMax":
        return x.amax(ax, keepdim=keep)
    if kind == "ReduceMin":
        return x.amin(ax, keepdim=keep)
    if kind == "ReduceProd":
        return x.prod(ax, keepdim=keep)
    if kind == "ReduceSumSquare":
        return (x * x).sum(ax, keepdim=keep)
    if kind == "ReduceL2":
        return (x * x).sum(ax, keepdim=keep).sqrt()
    return x.logsumexp(ax, keepdim=keep)


def _check_argmax(n):
    if n.get("select_last_index", 0):
        n.unsupported("select_last_index=1 is not supported")


@register("ArgMax", "ArgMin", check=_check_argmax)
def _argmax(n, x):
    axis, keep = int(n.get("axis", 0)), bool(n.get("keepdims", 1))
    a = array(x)
    fn = np.argmax if n.op_type == "ArgMax" else np.argmin
    return np.asarray(fn(a, axis=axis, keepdims=keep)).astype(np.int64)
