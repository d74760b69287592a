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

A whole training step (forward, ``loss.backward()``, ``zero_grad()``, ``optimizer.step()``)
compiles into one generated function (:mod:`.replay`): the replay runs no per-op dispatch and
no eager optimizer code. A call whose results carry gradients back into eager code (grad mode
on, inputs or parameters requiring grad, no ``backward()`` inside) becomes one node of the
eager tape whose backward runs the compiled backward graph (:mod:`.jit_autograd`).
"""
from __future__ import annotations

import functools
import sys
import warnings

import numpy as np

from ..autograd import grad_mode
from ..dispatch import DispatchMode
from ..tensor import Tensor
from .autodiff import gradients
from .executor import Executable, State
from .ir import Graph
from .passes import ALL
from .codegen import Unsupported
from .replay import MISS, generate

_UNTRACEABLE = ("item", "__bool__", "__float__", "__int__", "__index__", "__repr__", "__str__",
                "__format__", "tolist", "numpy", "__array__")


def _codes():
    """code object -> (kind, label): calls the tracer treats specially."""
    from ..nn import functional as F
    from ..nn.module import Module
    from ..optim.optimizer import Optimizer
    out = {}
    for name in _UNTRACEABLE:
        code = getattr(getattr(Tensor, name, None), "__code__", None)
        if code is not None:
            out[code] = ("bad", f"Tensor.{name}()")
    out[Tensor.backward.__code__] = ("backward", "Tensor.backward()")
    from ..autograd import engine
    # the engine reached other than through Tensor.backward (ember.autograd.grad, ...)
    out[engine.run_backward.__code__] = ("bad", "the autograd engine (autograd.grad)")
    out[F.assign_.__code__] = ("assign", "assign_")
    out[Module.zero_grad.__code__] = ("zero_grad", "Module.zero_grad()")
    stack = [Optimizer]
    while stack:
        c = stack.pop()
        stack.extend(c.__subclasses__())
        for name in ("step", "zero_grad"):
            f = c.__dict__.get(name)
            if f is not None and hasattr(f, "__code__"):
                out[f.__code__] = (name, f"{c.__name__}.{name}()")
    return out


class _Tracer(DispatchMode):
    """Records every primitive call as ("call", op, inputs, attrs, outputs), and the training
    side effects the profile hook reports as events, in order. Calls made inside an event
    (an optimizer step's own arithmetic) are part of that event, not of the graph."""

    def __init__(self):
        self.calls = []
        self.inside = 0
        self.snap = {}  # id(tensor) -> (data, version, copy) when the trace first read it

    def __ember_dispatch__(self, op, inputs, attrs):
        if not self.inside:
            for x in inputs:
                if isinstance(x, Tensor) and id(x) not in self.snap:
                    # a copy too: an in-place change through .data bumps no version
                    self.snap[id(x)] = (x.data, x._vb[0], x.data.copy())
        out = op.apply(*inputs, **attrs)
        if not self.inside:
            self.calls.append(("call", op, inputs, attrs,
                               out if isinstance(out, tuple) else (out,)))
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
    owner = getattr(fn, "__self__", None)  # a bound method of a module (Model._tensor_step)
    if isinstance(owner, Module):
        found.append(owner)
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
    """One traced signature: the executable, how arguments map to its feeds, and the training
    side effects to replay around it, in their traced order."""

    def __init__(self, exe, arg_slots, structure, events, grad_targets):
        self.exe, self.arg_slots, self.structure = exe, arg_slots, structure
        self.events = events              # [("zero_grad"|"step", obj, kwargs) | ("graph",)]
        self.grad_targets = grad_targets  # tensors whose .grad the traced backward filled
        self.state = State()
        self.fast = None                  # the generated replay (``replay.generate``)
        self.source = None

    def __call__(self, args):
        if self.fast is not None:
            r = self.fast(*args)
            if r is not MISS:
                return r
        return self.interpret(args)

    def interpret(self, args):
        """The replay by the graph executor (closures), when no generated code applies."""
        results = None
        for ev in self.events:
            if ev[0] == "graph":
                results = self._run_graph(args)
            else:
                getattr(ev[1], ev[0])(**ev[2])
        return _rebuild(self.structure, results)

    def _run_graph(self, args):
        feeds = [args[i].data if isinstance(args[i], Tensor) else np.asarray(args[i])
                 for i in self.arg_slots]
        outs = self.exe.run(feeds, self.state)
        n = len(outs) - len(self.grad_targets)
        given = set()
        for t, g in zip(self.grad_targets, outs[n:]):  # as the engine accumulates into leaves
            if g.dtype != t.data.dtype:
                g = g.astype(t.data.dtype)
            if t.grad is None:
                # a fresh array of this run is handed over as is; a view, or one array given
                # to two leaves (a + b's two gradients), is copied so no two .grad alias
                shared = g.base is not None or id(g) in given or not g.flags.writeable
                given.add(id(g))
                t.grad = Tensor(np.array(g, copy=True) if shared else g)
            else:
                t.grad.data += g
        return [Tensor(a) if isinstance(a, np.ndarray) else a for a in outs[:n]]


def _flatten(x, leaves, arrays=None):
    """The structure of a result, its tensors (and arrays that are a traced tensor's ``.data``)
    collected in ``leaves``. Other numbers and arrays may have been computed from tensor values
    outside any primitive: a replay could not recompute them, so they make the call eager."""
    if isinstance(x, Tensor):
        leaves.append(x)
        return ("leaf", len(leaves) - 1)
    if isinstance(x, (list, tuple)):
        return (type(x), [_flatten(v, leaves, arrays) for v in x])
    if isinstance(x, dict):
        return (dict, {k: _flatten(v, leaves, arrays) for k, v in x.items()})
    if isinstance(x, np.ndarray) and arrays is not None and id(x) in arrays:
        leaves.append(arrays[id(x)])
        return ("array", len(leaves) - 1)
    if x is None or isinstance(x, str):
        return ("const", x)
    raise _Untraceable(f"returns a {type(x).__name__} that is not a tensor (computed from tensor "
                       "values outside primitives? return the tensor itself)")


def _rebuild(s, results):
    tag, body = s
    if tag == "leaf":
        return results[body]
    if tag == "array":
        return results[body].data
    if tag == "const":
        return body
    if tag is dict:
        return {k: _rebuild(v, results) for k, v in body.items()}
    return tag([_rebuild(v, results) for v in body])


class _DiffCompiled(_Compiled):
    """A signature whose results carry gradients back into eager autograd: the program runs
    its forward phase on the call and its backward phase from the eager ``backward()``."""

    def __init__(self, exe, arg_slots, structure, parents, outs, grad_of, n_res, out_specs,
                 label):
        super().__init__(exe, arg_slots, structure, [("graph",)], [])
        self.parents, self.grad_of, self.n_res = parents, grad_of, n_res
        self.diff = {i: k for k, i in enumerate(outs)}
        self.out_specs, self.label = out_specs, label
        prog = exe.program
        later = {ph.node for _, ph in prog.feeds[len(arg_slots):]}
        for n in prog.nodes:  # the backward phase: what depends on an upstream gradient
            if n not in later and any(v.node in later for v in n.deps):
                later.add(n)
        self.phase1 = [i for i, n in enumerate(exe.nodes) if n not in later]
        self.phase2 = [i for i, n in enumerate(exe.nodes) if n in later]

    def interpret(self, args):
        from .jit_autograd import attach
        exe = self.exe
        feeds = [args[i].data if isinstance(args[i], Tensor) else np.asarray(args[i])
                 for i in self.arg_slots] + [None] * len(self.out_specs)
        env, rt = exe.start(feeds, self.state)
        exe.run_steps(env, rt, self.phase1)
        results = exe.finish(env, rt, self.state, range(self.n_res))
        run = {"exe": exe, "env": env, "rt": rt, "state": self.state, "phase2": self.phase2,
               "n_args": len(self.arg_slots), "out_specs": self.out_specs,
               "upstream": [None] * len(self.out_specs),
               "grad_fetches": range(self.n_res, self.n_res + len(self.grad_of)),
               "grad_of": self.grad_of, "n_parents": len(self.parents)}
        parents = [args[x] if kind == "arg" else x for kind, x in self.parents]
        tensors = attach(parents, run, results, self.diff, self.label)
        return _rebuild(self.structure, tensors)


class JitFunction:
    """A function compiled per input signature; call it like the function."""

    def __init__(self, fn, passes=ALL, codegen=True):
        self.fn = fn
        self.passes = tuple(passes)
        self.codegen = codegen
        self._compiled: dict = {}
        self._warned = set()
        self._mods = None
        self._last = None  # the generated replay used last: tried first (its guard is cheap)
        functools.update_wrapper(self, fn)

    def signature(self, args, kwargs):
        if self._mods is None:  # modules of the closure and globals: found once
            self._mods = [m for top in _modules_of(self.fn, ()) for m in top.modules()]
        flags = tuple([m.training for m in self._mods])
        if any(hasattr(a, "modules") and hasattr(a, "training") for a in args):
            flags += tuple(m.training for top in _modules_of(lambda: None, args)
                           for m in top.modules())
        return (tuple([_key_of(a) for a in args]), tuple(sorted(
            (k, _key_of(v)) for k, v in kwargs.items())), grad_mode._enabled, flags)

    def __call__(self, *args, **kwargs):
        last = self._last
        if last is not None and not kwargs:
            r = last(*args)
            if r is not MISS:
                return r
        key = self.signature(args, kwargs)
        entry = self._compiled.get(key)
        if entry is None:
            out, entry = self._trace(args, kwargs)
            self._compiled[key] = entry
            return out
        if entry == "eager":
            return self.fn(*args, **kwargs)
        if entry.fast is not None:
            self._last = entry.fast
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
        codes = _codes()
        tracer = _Tracer()
        bad = []
        open_frames = {}  # frame -> event index, for the side-effect calls being run

        def profile(frame, event, arg):
            if event == "call":
                hit = codes.get(frame.f_code)
                if hit is None or tracer.inside:
                    return
                kind, label = hit
                caller = frame.f_back
                where = f"{caller.f_code.co_filename}:{caller.f_lineno}" if caller else "?"
                if kind == "bad":
                    if not bad:
                        bad.append(f"calls {label} at {where}")
                    return
                loc = dict(frame.f_locals)
                tracer.calls.append(("event", kind, loc, where))
                tracer.inside += 1
                open_frames[frame] = len(tracer.calls) - 1
            elif event == "return" and frame in open_frames:
                del open_frames[frame]
                tracer.inside -= 1

        old = sys.getprofile()
        sys.setprofile(profile)
        try:
            with tracer:
                out = self.fn(*args)
        finally:
            sys.setprofile(old)
        if bad:
            self._warn(bad[0] + ", which a trace cannot capture")
            return out, "eager"
        try:
            compiled = self._build(tracer.calls, tracer.snap, args, out)
        except _Untraceable as e:
            self._warn(str(e))
            return out, "eager"
        return out, compiled

    def _build(self, calls, snap, args, out):
        g = Graph()
        values: dict = {}   # id(tensor) -> Value
        seen: dict = {}     # id(tensor) -> (tensor, data, version) of tensors read from outside
        arg_slots = []
        for i, a in enumerate(args):
            if isinstance(a, (Tensor, np.ndarray)):
                data = a.data if isinstance(a, Tensor) else a
                v = g.add("placeholder", None, (), {"feed_of": None},
                          out=[(data.shape, data.dtype)], name=f"arg{i}").outputs[0]
                values[id(a)] = v
                arg_slots.append(i)
        none = g.add("const", None, (), {"value": None}, out=[((), None)], name="None").outputs[0]
        events, targets = [], []
        loss, stepped, legit = None, False, {}
        for item in calls:
            if item[0] == "event":
                kind, loc, where = item[1], item[2], item[3]
                if kind == "backward":
                    if loss is not None or loc.get("gradient") is not None:
                        raise _Untraceable(f"calls backward() twice or with a gradient at {where}"
                                           " (one scalar backward per traced function)")
                    if id(loc["self"]) not in values:
                        raise _Untraceable(f"calls backward() at {where} on a tensor the trace "
                                           "did not compute")
                    loss = values[id(loc["self"])]
                    events.append(("graph",))
                elif kind == "assign":  # a primitive's state output written into a buffer
                    st, val = loc["state"], loc["value"]
                    if id(val) not in values:
                        raise _Untraceable(f"assign_ at {where} writes a value the trace did not "
                                           "compute")
                    node = g.add("writeback", None, (values[id(val)],), {"tensor": st}, out=[],
                                 name="WriteBack")
                    targets.append(node)
                    legit[id(st)] = legit.get(id(st), 0) + 1
                else:  # zero_grad / step: replayed as the same eager call
                    obj = loc.pop("self")
                    loc.pop("closure", None)
                    loc = {k: v for k, v in loc.items() if k in ("set_to_none",)}
                    if kind == "step":  # the optimizer's own parameters may change
                        stepped = True
                        for group in getattr(obj, "param_groups", ()):
                            for p in group["params"]:
                                legit[id(p)] = legit.get(id(p), 0) + 1
                    events.append((kind, obj, loc))
                continue
            _, op, inputs, attrs, outs = item
            if stepped:
                raise _Untraceable(f"computes with tensors after an optimizer step "
                                   f"({op.__name__}); put the step last")
            ins = []
            for x in inputs:
                if x is None:
                    ins.append(none)
                elif id(x) in values:
                    ins.append(values[id(x)])
                elif isinstance(x, Tensor):
                    if x.requires_grad and x._ctx is not None:
                        raise _Untraceable("reads a tensor that is part of an outer autograd "
                                           "graph")
                    seen[id(x)] = (x,) + snap[id(x)]
                    v = g.add("capture", None, (), {"tensor": x},
                              out=[(x.shape, x.data.dtype)], name="captured").outputs[0]
                    values[id(x)] = v
                    ins.append(v)
                else:
                    a = np.asarray(x)
                    # a Python number stays one: the rule gets what eager gave it (NumPy treats
                    # it as weak, so float32 * 2.0 stays float32; a 0-d float64 array would not)
                    value = x if isinstance(x, (bool, int, float, complex)) else a
                    ins.append(g.add("const", None, (), {"value": value},
                                     out=[(a.shape, a.dtype)]).outputs[0])
            random = op.__module__.endswith("ops.random")
            node = g.add("rng_fn" if random else "fn", op, ins, dict(attrs),
                         out=[(o.shape, o.data.dtype) for o in outs], name=op.__name__)
            for o, v in zip(outs, node.outputs):
                values[id(o)] = v
        needs = [t for t, *_ in seen.values() if t.requires_grad] + \
            [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        diff = bool(needs) and grad_mode._enabled and loss is None
        if diff and any(e[0] != "graph" for e in events):
            raise _Untraceable("needs gradients through its result and calls zero_grad() or "
                               "step() without backward()")
        for t, data, version, copy in seen.values():
            changed = t.data is not data or t._vb[0] != version or not np.array_equal(
                t.data, copy, equal_nan=True)
            if changed and id(t) not in legit:
                raise _Untraceable("changes a tensor in place outside a primitive, which a "
                                   "trace cannot replay")
        if not any(e[0] == "graph" for e in events):
            events.append(("graph",))
        leaves: list = []
        produced = {}  # id(array) -> its tensor, for results returned as ``t.data``
        for item in calls:
            if item[0] == "call":
                for o in item[4]:
                    produced[id(o.data)] = o
        structure = _flatten(out, leaves, produced)
        fetches = []
        for t in leaves:
            if id(t) not in values:
                raise _Untraceable("returns a tensor made outside primitives (from .data?), "
                                   "which a replay could not recompute")
            fetches.append(values[id(t)])
        grad_targets = []
        if diff:
            return self._build_diff(g, values, leaves, fetches, targets, needs, arg_slots,
                                    structure, args)
        if loss is not None:
            leaves_needing = [t for t in needs if t._ctx is None]
            grads = gradients(loss, [values[id(t)] for t in leaves_needing])
            for t, gv in zip(leaves_needing, grads):
                if gv is not None:
                    grad_targets.append(t)
                    fetches.append(gv)
        fed = [n.outputs[0] for n in g.nodes if n.kind == "placeholder"]
        exe = Executable(g, fetches, targets, fed, self.passes)
        compiled = _Compiled(exe, arg_slots, structure, events, grad_targets)
        if self.codegen:
            mods = list(self._mods or []) + [m for top in _modules_of(lambda: None, args)
                                             for m in top.modules()]
            try:
                compiled.fast, compiled.source, _ = generate(
                    exe, arg_slots, structure, events, grad_targets, args, mods,
                    f"<ember.jit {self.fn.__qualname__}>")
            except Unsupported:
                pass  # the executor's replay (a node kind the generator does not write)
        return compiled



    def _build_diff(self, g, values, leaves, fetches, targets, needs, arg_slots, structure, args):
        """The compiled call when gradients flow out of it into eager code (``jit_autograd``)."""
        outs = [i for i, t in enumerate(leaves) if t.requires_grad and t.data.dtype.kind in "fc"]
        gys = [g.add("placeholder", None, (), {"feed_of": None},
                     out=[(leaves[i].shape, leaves[i].data.dtype)], name=f"grad_out{k}").outputs[0]
               for k, i in enumerate(outs)]
        grads = gradients([fetches[i] for i in outs], [values[id(t)] for t in needs], grad_ys=gys)
        grad_of = [j for j, gv in enumerate(grads) if gv is not None]
        n_res = len(fetches)
        fetches = fetches + [grads[j] for j in grad_of]
        fed = [n.outputs[0] for n in g.nodes if n.kind == "placeholder"]
        exe = Executable(g, fetches, targets, fed, self.passes)
        where = {id(a): i for i, a in enumerate(args)}  # the call's own arguments, on each call
        parents = [("arg", where[id(t)]) if id(t) in where else ("tensor", t) for t in needs]
        return _DiffCompiled(exe, arg_slots, structure, parents, outs, grad_of, n_res,
                             [(leaves[i].shape, leaves[i].data.dtype) for i in outs],
                             self.fn.__qualname__)


def jit(fn=None, *, passes=ALL, codegen=True):
    """Compile ``fn`` per input signature (``@ember.jit`` or ``ember.jit(fn, passes=...)``).
    ``codegen=False`` replays through the graph executor instead of generated code."""
    if fn is None:
        return lambda f: JitFunction(f, passes, codegen)
    return JitFunction(fn, passes, codegen)
