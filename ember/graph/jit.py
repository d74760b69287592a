"""``@ember.jit``: trace a function of tensors once per input signature into the graph IR, then
replay the optimized graph (dead code, folding, CSE, fusion, memory plan) without per-op Python
dispatch.

Tracing runs the function eagerly under a recording dispatch mode (``ember.dispatch``), so the
first call's result is the eager one. Every primitive call becomes a node; the function's tensor
arguments become placeholders; other tensors it reads (parameters, buffers) are read live on
each replay, so in-place updates between calls are seen; random primitives read and advance
ember's generator on each replay (new dropout masks every call).

What a trace cannot capture is detected while tracing, and the function then runs eagerly for
that signature, with one warning naming the line: Python control flow or conversions on tensor
values (``bool``, ``.item()``, ``float``, ``print``/``repr``, ``.numpy()``, ``.tolist()``),
``backward()`` and optimizer steps, and any in-place change to a tensor made outside a
primitive (seen as a version or storage change of a tensor the trace read).

Not compiled yet (runs eagerly, with one warning): calls where a gradient must flow back
through the function (grad mode on and an input or read tensor requiring grad), and hence a
whole training step with ``loss.backward()`` and ``optimizer.step()`` inside.
"""
from __future__ import annotations

import functools
import sys
import warnings

import numpy as np

from ..autograd import grad_mode
from ..dispatch import DispatchMode
from ..tensor import Tensor
from .executor import Executable, State
from .ir import Graph
from .passes import ALL

_UNTRACEABLE = ("item", "__bool__", "__float__", "__int__", "__index__", "__repr__", "__str__",
                "__format__", "tolist", "numpy", "__array__", "backward")


def _codes():
    out = {}
    for name in _UNTRACEABLE:
        f = getattr(Tensor, name, None)
        code = getattr(f, "__code__", None)
        if code is not None:
            out[code] = f"Tensor.{name}()"
    from ..optim.optimizer import Optimizer
    stack = [Optimizer]
    while stack:
        c = stack.pop()
        stack.extend(c.__subclasses__())
        for name in ("step", "zero_grad"):
            f = c.__dict__.get(name)
            if f is not None and hasattr(f, "__code__"):
                out[f.__code__] = f"{c.__name__}.{name}()"
    return out


class _Tracer(DispatchMode):
    """Records (op, inputs, attrs, outputs) of every primitive call."""

    def __init__(self):
        self.calls = []

    def __ember_dispatch__(self, op, inputs, attrs):
        out = op.apply(*inputs, **attrs)
        self.calls.append((op, inputs, attrs, out if isinstance(out, tuple) else (out,)))
        return out


class _Untraceable(Exception):
    pass


def _key_of(x):
    if isinstance(x, Tensor):
        return ("T", x.shape, x.data.dtype.str, x.requires_grad)
    if isinstance(x, np.ndarray):
        return ("A", x.shape, x.dtype.str)
    try:
        hash(x)
        return ("V", type(x).__name__, x)
    except TypeError:
        return ("I", id(x))


def _modules_of(fn, args):
    """Modules the function can see (arguments, closure, globals it names): their train/eval
    flags are part of the signature."""
    from ..nn.module import Module
    found = [a for a in args if isinstance(a, Module)]
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, Module):
            found.append(v)
    g = getattr(fn, "__globals__", {})
    for name in getattr(getattr(fn, "__code__", None), "co_names", ()):
        v = g.get(name)
        if isinstance(v, Module):
            found.append(v)
    return found


class _Compiled:
    """One traced signature: the executable and how to map arguments and results."""

    def __init__(self, exe, arg_slots, structure, out_index, rng_nodes):
        self.exe, self.arg_slots, self.structure = exe, arg_slots, structure
        self.out_index, self.rng_nodes = out_index, rng_nodes
        self.state = State()

    def __call__(self, args):
        feeds = [args[i].data if isinstance(args[i], Tensor) else np.asarray(args[i])
                 for i in self.arg_slots]
        outs = self.exe.run(feeds, self.state)
        results = [Tensor(a) if isinstance(a, np.ndarray) else a for a in outs]
        return _rebuild(self.structure, results)


def _flatten(x, leaves):
    if isinstance(x, Tensor):
        leaves.append(x)
        return ("leaf", len(leaves) - 1)
    if isinstance(x, (list, tuple)):
        return (type(x), [_flatten(v, leaves) for v in x])
    if isinstance(x, dict):
        return (dict, {k: _flatten(v, leaves) for k, v in x.items()})
    return ("const", x)


def _rebuild(s, results):
    tag, body = s
    if tag == "leaf":
        return results[body]
    if tag == "const":
        return body
    if tag is dict:
        return {k: _rebuild(v, results) for k, v in body.items()}
    return tag([_rebuild(v, results) for v in body])


class JitFunction:
    """A function compiled per input signature; call it like the function."""

    def __init__(self, fn, passes=ALL):
        self.fn = fn
        self.passes = tuple(passes)
        self._compiled: dict = {}
        self._warned = set()
        functools.update_wrapper(self, fn)

    def signature(self, args, kwargs):
        mods = _modules_of(self.fn, args)
        flags = tuple(m.training for top in mods for m in top.modules())
        return (tuple(_key_of(a) for a in args), tuple(sorted(
            (k, _key_of(v)) for k, v in kwargs.items())), grad_mode._enabled, flags)

    def __call__(self, *args, **kwargs):
        key = self.signature(args, kwargs)
        entry = self._compiled.get(key)
        if entry is None:
            out, entry = self._trace(args, kwargs)
            self._compiled[key] = entry
            return out
        if entry == "eager":
            return self.fn(*args, **kwargs)
        return entry(args)

    # ---- tracing
    def _warn(self, why):
        if why not in self._warned:
            self._warned.add(why)
            warnings.warn(f"ember.jit: {self.fn.__qualname__} {why}; running it eagerly",
                          stacklevel=4)

    def _trace(self, args, kwargs):
        if kwargs:
            self._warn("was called with keyword arguments (not traced)")
            return self.fn(*args, **kwargs), "eager"
        needs_grad = grad_mode._enabled and any(isinstance(a, Tensor) and a.requires_grad
                                                for a in args)
        codes = _codes()
        hits = []

        def profile(frame, event, arg):
            if event == "call" and frame.f_code in codes and not hits:
                caller = frame.f_back
                where = f"{caller.f_code.co_filename}:{caller.f_lineno}" if caller else "?"
                hits.append(f"calls {codes[frame.f_code]} at {where}")

        tracer = _Tracer()
        old = sys.getprofile()
        sys.setprofile(profile)
        try:
            with tracer:
                out = self.fn(*args)
        finally:
            sys.setprofile(old)
        if hits:
            self._warn(hits[0] + ", which a trace cannot capture")
            return out, "eager"
        try:
            compiled = self._build(tracer.calls, args, out, needs_grad)
        except _Untraceable as e:
            self._warn(str(e))
            return out, "eager"
        return out, compiled

    def _build(self, calls, args, out, needs_grad):
        g = Graph()
        values: dict = {}   # id(tensor) -> Value
        seen: dict = {}     # id(tensor) -> (tensor, data, version) of tensors read from outside
        arg_ids = {id(a): i for i, a in enumerate(args) if isinstance(a, (Tensor, np.ndarray))}
        arg_slots = []
        for i, a in enumerate(args):
            if isinstance(a, (Tensor, np.ndarray)):
                data = a.data if isinstance(a, Tensor) else a
                v = g.add("placeholder", None, (), {"feed_of": None},
                          out=[(data.shape, data.dtype)], name=f"arg{i}").outputs[0]
                values[id(a)] = v
                arg_slots.append(i)
        rng_nodes = []
        for op, inputs, attrs, outs in calls:
            ins = []
            for x in inputs:
                if id(x) in values:
                    ins.append(values[id(x)])
                elif isinstance(x, Tensor):
                    if x.requires_grad and grad_mode._enabled:
                        needs_grad = True
                    seen[id(x)] = (x, x.data, x._vb[0])
                    v = g.add("capture", None, (), {"tensor": x},
                              out=[(x.shape, x.data.dtype)], name="captured").outputs[0]
                    values[id(x)] = v
                    ins.append(v)
                else:
                    a = np.asarray(x) if x is not None else None
                    if a is None:
                        ins.append(None)
                        continue
                    v = g.add("const", None, (), {"value": a}, out=[(a.shape, a.dtype)]
                              ).outputs[0]
                    ins.append(v)
            if any(v is None for v in ins):
                raise _Untraceable(f"passes None to {op.__name__} (optional inputs are not "
                                   "traced yet)")
            random = op.__module__.endswith("ops.random")
            node = g.add("rng_fn" if random else "fn", op, ins, dict(attrs),
                         out=[(o.shape, o.data.dtype) for o in outs], name=op.__name__)
            if random:
                rng_nodes.append(node)
            for o, v in zip(outs, node.outputs):
                values[id(o)] = v
        if needs_grad:
            raise _Untraceable("needs gradients through its result (not compiled yet)")
        for t, data, version in seen.values():
            if t.data is not data or t._vb[0] != version:
                raise _Untraceable("changes a tensor in place outside a primitive (an optimizer "
                                   "step or an in-place update), which a trace cannot replay")
        leaves: list = []
        structure = _flatten(out, leaves)
        fetches = []
        for t in leaves:
            if id(t) not in values:
                a = t.data
                values[id(t)] = g.add("const", None, (), {"value": a},
                                      out=[(a.shape, a.dtype)]).outputs[0]
            fetches.append(values[id(t)])
        fed = [n.outputs[0] for n in g.nodes if n.kind == "placeholder"]
        exe = Executable(g, fetches, [], fed, self.passes)
        return _Compiled(exe, arg_slots, structure, None, rng_nodes)


def jit(fn=None, *, passes=ALL):
    """Compile ``fn`` per input signature (``@ember.jit`` or ``ember.jit(fn, passes=...)``)."""
    if fn is None:
        return lambda f: JitFunction(f, passes)
    return JitFunction(fn, passes)
