"""Tracing an eager ``nn.Module`` into the graph IR, for ``SummaryWriter.add_graph`` (and the
recorded calls themselves, :func:`record_module`, for ``ember.onnx.export``).

The model runs once on the example input under a recording dispatch mode (``ember.dispatch``):
every primitive call becomes a node, with its inputs, attributes and output shapes, whether or
not it is differentiable (comparisons and argmax appear too) and whatever grad mode is on.
No class is patched. Forward pre/post hooks keep a stack of the modules being run, so each
call belongs to the innermost module whose forward made it and layers become name scopes
(``Sequential/Linear[0]/Linear``), PyTorch's naming. Parameters and buffers appear as
variables in their module's scope, other tensors the model reads as constants.
"""
from __future__ import annotations

import numpy as np

from ..dispatch import DispatchMode
from ..tensor import Tensor
from .ir import Graph


class _Recorder(DispatchMode):
    def __init__(self, scopes):
        self.calls = []
        self.scopes = scopes

    def __ember_dispatch__(self, op, inputs, attrs):
        out = op.apply(*inputs, **attrs)
        self.calls.append((op, inputs, attrs, out if isinstance(out, tuple) else (out,),
                           self.scopes[-1]))
        return out


def _scope_names(model) -> dict:
    modules = dict(model.named_modules())
    names = {}
    for path, m in modules.items():
        parts, cur = [type(model).__name__], ""
        for p in (path.split(".") if path else []):
            cur = f"{cur}.{p}" if cur else p
            parts.append(f"{type(modules[cur]).__name__}[{p}]")
        names[id(m)] = "/".join(parts)
    return names


def record_module(model, inputs, kwargs=None):
    """Run ``model(*inputs, **kwargs)`` once under the recording mode (the tracer shared by
    ``trace_module`` and ``ember.onnx.export``).

    Returns ``(output, calls, invocations)``: ``calls`` lists every primitive call as
    ``(op, inputs, attrs, outputs, module)`` in call order, ``module`` the innermost module
    whose forward made it; ``invocations`` lists every module call as
    ``(module, args, output, first, end)``, ``calls[first:end]`` being the calls made inside
    it (in the order the calls finished)."""
    stack = [model]
    rec = _Recorder(stack)
    open_calls, invocations = [], []

    def enter(mod, args):
        stack.append(mod)
        open_calls.append((args, len(rec.calls)))  # returns None: the inputs stay as they are

    def leave(mod, args, out):
        stack.pop()
        args, first = open_calls.pop()
        invocations.append((mod, args, out, first, len(rec.calls)))  # output unchanged

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(enter))
        handles.append(m.register_forward_hook(leave))
    try:
        with rec:
            out = model(*inputs, **(kwargs or {}))
    finally:
        for h in handles:
            h.remove()
    return out, rec.calls, invocations


def trace_module(model, example_input) -> Graph:
    """The graph of one forward pass of ``model`` on ``example_input`` (a Tensor/array or a
    tuple of them)."""
    inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    inputs = tuple(x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for x in inputs)
    names = _scope_names(model)
    top = type(model).__name__
    _, calls, _ = record_module(model, inputs)
    calls = [(op, ins, attrs, outs, names[id(m)]) for op, ins, attrs, outs, m in calls]
    return _to_graph(model, inputs, calls, names, top)


def _to_graph(model, inputs, calls, names, top) -> Graph:
    g = Graph()
    params = {}
    for m in model.modules():
        for name, p in list(m.named_parameters(recurse=False)) + list(
                m.named_buffers(recurse=False) if hasattr(m, "named_buffers") else []):
            if p is not None:
                params[id(p)] = (names[id(m)], name)
    values: dict = {}
    with g.name_scope(top + "/"):
        for i, x in enumerate(inputs):
            values[id(x)] = g.add("placeholder", None, (), {}, out=[(x.shape, x.data.dtype)],
                                  name=f"input_{i}" if len(inputs) > 1 else "input").outputs[0]

    def leaf(t, scope):
        if id(t) in values:
            return values[id(t)]
        if id(t) in params:
            scope, name = params[id(t)]
            kind, attrs = "variable", {}
        else:
            name, kind = "Const", "const"
            attrs = {"value": np.asarray(getattr(t, "data", t))}
        a = np.asarray(getattr(t, "data", t))
        with g.name_scope(scope + "/"):
            v = g.add(kind, None, (), attrs, out=[(a.shape, a.dtype)], name=name).outputs[0]
        if isinstance(t, Tensor):
            values[id(t)] = v
        return v

    for op, ins, attrs, outs, scope in calls:
        args = [leaf(x, scope) for x in ins if x is not None]
        with g.name_scope(scope + "/"):
            node = g.add("fn", op, args, {}, out=[(o.shape, o.data.dtype) for o in outs])
        for o, v in zip(outs, node.outputs):
            values[id(o)] = v
    return g
