"""Reverse-mode differentiation of a graph into more graph.

``gradients(ys, xs)`` walks the nodes between ``xs`` and ``ys`` in the order the eager engine
walks their tensors (newest first, by creation) and, for each primitive call on
the way, adds a ``grad`` node that runs that primitive's own ``backward`` rule (from
``ember/ops``) with the context its ``forward`` filled in the same run. Contributions to one
Value are summed with ``Add`` nodes in the engine's order, so a jitted step has eager's bits.
The results are ordinary Values: fetch them, combine them, assign with them.
"""
from __future__ import annotations

from .. import ops
from .build import apply, as_value, ones_like
from .ir import Value


def _float(v: Value) -> bool:
    return v.dtype is not None and v.dtype.kind in "fc"


def gradients(ys, xs, grad_ys=None, name: str = "gradients") -> list:
    """d(sum ys)/d xs as graph Values (None for an x that ``ys`` does not depend on)."""
    single = isinstance(xs, Value)
    ys = [ys] if isinstance(ys, Value) else list(ys)
    xs = [xs] if single else list(xs)
    xs = [as_value(x) for x in xs]
    if grad_ys is not None:
        grad_ys = [grad_ys] if isinstance(grad_ys, Value) else list(grad_ys)
    graph = ys[0].node.graph
    # nodes that depend on some x (forward reachability, in creation order)
    reach = {x.node for x in xs}
    for n in graph.nodes:
        if n not in reach and any(v.node in reach for v in n.inputs):
            reach.add(n)
    # ... and that some y depends on
    live = set()
    stack = [y.node for y in ys if y.node in reach]
    while stack:
        n = stack.pop()
        if n in live:
            continue
        live.add(n)
        stack.extend(v.node for v in n.inputs if v.node in reach)
    grads: dict[Value, list[Value]] = {}
    with graph.name_scope(name):
        for i, y in enumerate(ys):
            g = grad_ys[i] if grad_ys is not None and grad_ys[i] is not None else ones_like(y)
            grads.setdefault(y, []).append(as_value(g, y.dtype, graph))
        for node in _engine_order(graph, live):
            if node.kind != "fn" or not getattr(node.op, "differentiable", True):
                continue
            out = node.outputs[0]
            if out not in grads:
                continue
            g = _sum(grads[out])
            grads[out] = [g]
            needs = tuple(v.node in live and _float(v) for v in node.inputs)
            if not any(needs):
                continue
            gnode = graph.add("grad", node.op, (out, g), {"forward": node, "needs": needs},
                              out=[(v.shape, v.dtype) for v, nd in zip(node.inputs, needs) if nd],
                              name=node.op.__name__ + "Grad")
            k = 0
            for v, nd in zip(node.inputs, needs):
                if nd:
                    grads.setdefault(v, []).append(gnode.outputs[k])
                    k += 1
        result = [(_sum(grads[x]) if x in grads else None) for x in xs]
    return result[0] if single else result


def _engine_order(graph, live) -> list:
    """The live nodes in the order the eager engine walks their tensors: newest first by
    creation (``ember/autograd/engine.py`` sorts the recorded nodes by their creation number; a
    trace adds nodes in the same order eager creates them). A Value's gradient contributions
    are then summed in eager's order, so a value read by several ops gets eager's bits
    (a + b + c rounds differently from b + c + a)."""
    return [n for n in reversed(graph.nodes) if n in live]


def _sum(values: list[Value]) -> Value:
    total = values[0]
    for v in values[1:]:
        total = apply(ops.Add, total, v, name="AddN")
    return total
