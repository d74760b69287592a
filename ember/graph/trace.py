"""Tracing an eager ``nn.Module`` into the graph IR, for ``SummaryWriter.add_graph``.

The model runs once on the example input (which is made to require a gradient), and the graph
is read off the autograd tape the run leaves behind: every recorded node is a primitive call,
with its parents as inputs. No class is patched. Forward hooks tell which module each call
belongs to: when a module's forward returns, the calls between its inputs and its output not
yet claimed by an inner module are its own, so layers become name scopes
(``Sequential/Linear[0]/Linear``), PyTorch's naming.

Only differentiable calls are on the tape; work done outside primitives (comparisons, argmax)
does not appear. TODO(dispatch): trace with ``ember.dispatch.RecordingMode`` to see every call.
"""
from __future__ import annotations

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor
from .ir import Graph


def _tensors(x):
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for y in x for t in _tensors(y)]
    if isinstance(x, dict):
        return [t for y in x.values() for t in _tensors(y)]
    return []


def trace_module(model, example_input) -> Graph:
    """The graph of one forward pass of ``model`` on ``example_input`` (a Tensor/array or a
    tuple of them)."""
    inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    inputs = tuple(Tensor(np.asarray(getattr(x, "data", x)), requires_grad=True)
                   if not isinstance(x, Tensor) or not x.requires_grad else x for x in inputs)
    modules = dict(model.named_modules())
    scope_of_path = {}
    for path in modules:
        parts, cur = [type(model).__name__], ""
        for p in (path.split(".") if path else []):
            cur = f"{cur}.{p}" if cur else p
            parts.append(f"{type(modules[cur]).__name__}[{p}]")
        scope_of_path[path] = "/".join(parts)
    done = []  # (scope, input tensors, output tensors), in completion order
    handles = []
    for path, m in modules.items():
        def hook(mod, args, out, scope=scope_of_path[path]):
            done.append((scope, _tensors(args), _tensors(out)))
        handles.append(m.register_forward_hook(hook))
    try:
        with enable_grad():
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
    owner: dict = {}
    for scope, ins, outs in done:
        stop = {id(t) for t in ins}
        stack = [t._ctx for t in outs if t._ctx is not None and id(t) not in stop]
        while stack:
            c = stack.pop()
            if c in owner:
                continue
            owner[c] = scope
            for p in c.parents:
                if isinstance(p, Tensor) and p._ctx is not None and id(p) not in stop:
                    stack.append(p._ctx)
    return _to_graph(model, inputs, _tensors(out), owner, scope_of_path)


def _to_graph(model, inputs, outputs, owner, scope_of_path) -> Graph:
    g = Graph()
    params = {}
    for path, m in model.named_modules():
        for name, p in m.named_parameters(recurse=False) if hasattr(m, "named_parameters") else ():
            params[id(p)] = (scope_of_path[path], name)
    values: dict = {}  # id(tensor) or ctx -> Value
    top = type(model).__name__
    with g.name_scope(top + "/"):
        for i, x in enumerate(inputs):
            values[id(x)] = g.add("placeholder", None, (), {}, out=[(x.shape, x.data.dtype)],
                                  name=f"input_{i}" if len(inputs) > 1 else "input").outputs[0]

    def leaf(t):
        key = id(t)
        if key not in values:
            if key in params:
                scope, name = params[key]
                with g.name_scope(scope + "/"):
                    values[key] = g.add("variable", None, (), {}, out=[(t.shape, t.data.dtype)],
                                        name=name).outputs[0]
            else:
                a = np.asarray(getattr(t, "data", t))
                with g.name_scope(top + "/"):
                    values[key] = g.add("const", None, (), {"value": a},
                                        out=[(a.shape, a.dtype)], name="Const").outputs[0]
        return values[key]

    # post-order walk from the outputs, iteratively (deep graphs)
    order, seen = [], set()
    stack = [(t._ctx, False) for t in outputs if t._ctx is not None]
    while stack:
        c, expanded = stack.pop()
        if expanded:
            order.append(c)
            continue
        if c in seen:
            continue
        seen.add(c)
        stack.append((c, True))
        for p in c.parents:
            if isinstance(p, Tensor) and p._ctx is not None and id(p) not in values:
                stack.append((p._ctx, False))
    out_of = {t._ctx: t for t in outputs if t._ctx is not None}
    for c in order:  # the tape keeps parents, not outputs: a child's parent is the output
        for p in c.parents:
            if isinstance(p, Tensor) and p._ctx is not None:
                out_of.setdefault(p._ctx, p)
    produced: dict = {}
    for c in order:
        ins = []
        for p in c.parents:
            if isinstance(p, Tensor) and p._ctx is not None and p._ctx in produced:
                ins.append(produced[p._ctx])
            elif isinstance(p, Tensor) or p is not None:
                ins.append(leaf(p))
        scope = owner.get(c, top)
        out_t = out_of.get(c)
        shape = None if out_t is None else out_t.shape
        dtype = None if out_t is None else out_t.data.dtype
        with g.name_scope(scope + "/"):
            node = g.add("fn", type(c), ins, {}, out=[(shape, dtype)])
        produced[c] = node.outputs[0]
    return g

