"""Target shapes that stay right when a dynamic axis changes size.

A recorded reshape or expand carries the example's sizes. Comparing the two recordings (see
``_export_trace``) says which output dims follow a dynamic axis; those become ONNX's ``0``
(copy the input's dim) or ``-1`` (infer) in a Reshape, and ``1`` (keep the input's dim) in an
Expand, so the graph does not bake the example's batch size.
"""
from __future__ import annotations


def reshape_target(in_shape, in_alt, out_shape, out_alt, fail):
    """The ``shape`` input of an ONNX Reshape from ``in_shape`` to ``out_shape``; ``*_alt``
    are the same shapes in the resized recording (None: no dynamic axes)."""
    if out_alt is None:
        return list(out_shape)
    target, free = [], []
    for j, (a, b) in enumerate(zip(out_shape, out_alt)):
        if a == b:
            target.append(a)
        elif j < len(in_shape) and in_shape[j] == a and in_alt[j] == b:
            target.append(0)                    # the input's own (dynamic) dim j
        else:
            target.append(-1)
            free.append(j)
    if len(free) > 1:
        raise fail(f"reshape from {tuple(in_shape)} to {tuple(out_shape)} has several dims "
                   f"({free}) that follow dynamic axes; only one can be inferred")
    return target


def expand_target(in_shape, in_alt, out_shape, out_alt, fail):
    """The ``shape`` input of an ONNX Expand (NumPy broadcasting, right-aligned)."""
    if out_alt is None:
        return list(out_shape)
    target = []
    lead = len(out_shape) - len(in_shape)
    for j, (a, b) in enumerate(zip(out_shape, out_alt)):
        if a == b:
            target.append(a)
            continue
        k = j - lead
        if k >= 0 and in_shape[k] == a and in_alt[k] == b:
            target.append(1)                    # broadcasting keeps the input's dim
        else:
            raise fail(f"expand from {tuple(in_shape)} to {tuple(out_shape)} grows dim {j} to "
                       "a size that follows a dynamic axis")
    return target
