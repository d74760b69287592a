"""Running a graph: :class:`Executable` compiles one kind of run (which Values are fetched,
which ops are run, which Values are fed) into a flat list of steps over array slots, after the
passes; ``run`` executes it. :class:`State` holds what persists between runs: variable values
and random generators (a ``Session`` owns one).

A primitive node runs its ``Function.forward`` on arrays with a fresh context (the contract of
``ember.ops.function.Function``); when a backward node reads that context, the context is kept
for the rest of the run, so the backward rule sees exactly what its forward saved, as in eager
mode.
"""
from __future__ import annotations

import numpy as np

from .ir import Graph, Node, Value, fmt_shape
from .passes import ALL, extract, optimize, release_schedule
from .passes.fusion import run_kernel

_new = object.__new__


class GraphRunError(ValueError):
    """A node failed while the graph ran (the message names it and its input shapes)."""


class State:
    """Per-session values: variables (node -> array) and random generators (node -> Generator)."""

    def __init__(self, seed=None):
        self.values: dict = {}
        self.rngs: dict = {}
        self.seed = seed

    def rng(self, node: Node, graph_seed, op_seed, seed):
        g = self.rngs.get(node)
        if g is None:
            if seed is not None or graph_seed is not None:
                g = np.random.default_rng([0 if graph_seed is None else graph_seed,
                                           op_seed if seed is None else seed])
            else:
                from .. import random as _random
                g = np.random.default_rng(_random.get_generator().integers(2 ** 63))
            self.rngs[node] = g
        return g


_FRESH_KINDS = {"kernel", "random", "ones_like"}


class Executable:
    """A compiled run: ``Executable(graph, fetches, targets, fed).run(feed_arrays, state)``."""

    def __init__(self, graph: Graph, fetches: list[Value], targets: list[Node],
                 fed: list[Value], passes=ALL):
        self.source = graph
        prog = extract(graph, fetches, targets, fed)
        optimize(prog, passes)
        self.program = prog
        for n in prog.nodes:
            if n.kind == "placeholder" and "feed_of" not in n.attrs:
                users = ", ".join(repr(v.name) for v in fetches) or \
                    ", ".join(repr(t.name) for t in targets)
                raise GraphRunError(
                    f"placeholder {n.name!r} (shape {fmt_shape(n.outputs[0].shape)}, "
                    f"{n.outputs[0].dtype}) was not fed: {users} depend(s) on it; pass it in "
                    f"feed_dict={{{n.name}: array}}")
        self.slot = slot = {}
        for n in prog.nodes:
            for o in n.outputs:
                slot[o] = len(slot)
        self.nslots = len(slot)
        readers = prog.readers()
        keep = prog.grad_refs()
        self._fetched = set(prog.fetches)
        rel = release_schedule(prog)
        self.pool: dict = {}
        self._scratch: dict = {}
        self.last_allocated = 0
        self.steps = [self._compile(n, n in keep, readers, rel.get(n, ())) for n in prog.nodes]
        self.nodes = list(prog.nodes)
        self.feed_slots = [(orig, slot[ph]) for orig, ph in prog.feeds]
        self.fetch_slots = [slot[v] for v in prog.fetches]
        self.fetch_copy = [v.node.kind in ("variable", "assign", "capture") for v in prog.fetches]

    # ---- compiling one node into a step(env, rt) closure
    def _compile(self, n: Node, keep_ctx: bool, readers, release):
        slot = self.slot
        ins = [slot[v] for v in n.inputs]
        outs = [slot[o] for o in n.outputs]
        kind = n.kind
        if kind == "fn":
            op, attrs = n.op, n.attrs
            dyn = [(k, slot[v]) for k, v in n.dyn_attrs.items()]
            o = outs[0] if len(outs) == 1 else None
            needs = (True,) * len(ins)
            from .codegen import demoted
            demote = n.outputs[0].dtype if o is not None and demoted(n) else None

            def step(env, rt):
                arrays = [env[i] for i in ins]
                kw = attrs
                if dyn:
                    kw = dict(attrs)
                    for k, s in dyn:
                        kw[k] = env[s]
                ctx = _new(op)
                if keep_ctx:
                    ctx.needs = needs
                    rt.ctxs[n] = (ctx, arrays)
                out = op.forward(ctx, *arrays, **kw)
                if o is not None:
                    out = out if type(out) is np.ndarray else np.asarray(out)
                    if demote is not None and out.dtype != demote:  # as eager mode did
                        out = out.astype(demote)
                    env[o] = out
                else:  # a primitive with several outputs returns a tuple
                    for s, a in zip(outs, out):
                        env[s] = a if type(a) is np.ndarray else np.asarray(a)
            return step
        if kind == "grad":
            op, fwd, needs = n.op, n.attrs["forward"], n.attrs["needs"]
            gi = ins[1]
            picks = [i for i, nd in enumerate(needs) if nd]
            pairs = list(zip(picks, outs))

            def step(env, rt):
                ctx, arrays = rt.ctxs[fwd]
                ctx.needs = needs
                r = op.backward(ctx, env[gi])
                if type(r) is not tuple:
                    r = (r,)
                for i, s in pairs:
                    a = r[i]
                    if a is None:  # the rule gives no gradient here: zero, as TF does
                        a = np.zeros(np.shape(arrays[i]), arrays[i].dtype)
                    env[s] = a if type(a) is np.ndarray else np.asarray(a)
            return step
        if kind == "kernel":
            steps_, nregs = n.attrs["steps"], n.attrs["nregs"]
            dtype = n.outputs[0].dtype
            o = outs[0]
            pooled = n.attrs.get("pooled", False)
            rel = [(slot[v]) for v in release]
            pool, scratch = self.pool, self._scratch
            single = len(ins) == 1

            def step(env, rt):
                arrays = [env[i] for i in ins]
                shape = np.shape(arrays[0]) if single else np.broadcast_shapes(
                    *[np.shape(a) for a in arrays])
                for s in rel:  # dying inputs first: the output may take one's buffer
                    _give(pool, env[s])
                free = pool.get((shape, dtype)) if pooled else None
                if free:
                    out = free.pop()
                else:
                    out = np.empty(shape, dtype)
                    rt.allocated += 1
                env[o] = run_kernel(steps_, nregs, arrays, out, scratch)
            return step
        if kind == "capture":  # an eager tensor read live (a parameter a jitted function uses)
            t, o = n.attrs["tensor"], outs[0]

            def step(env, rt):
                env[o] = t.data
            return step
        if kind == "writeback":  # a primitive's new state written into an eager buffer
            t, i = n.attrs["tensor"], ins[0]

            def step(env, rt):
                np.copyto(t.data, env[i], casting="unsafe")
                t._vb[0] += 1
            return step
        if kind == "rng_fn":  # a random primitive: reads and advances ember's generator
            op, attrs = n.op, n.attrs
            from .. import random as _random

            def step(env, rt):
                arrays = [env[i] for i in ins]
                arrays[0] = _random.get_state()
                out = op.forward(_new(op), *arrays, **attrs)
                _random.set_state(out[1])
                for s, a in zip(outs, out):
                    env[s] = np.asarray(a)
            return step
        if kind == "const":
            value, o = n.attrs["value"], outs[0]

            def step(env, rt):
                env[o] = value
            return step
        if kind == "placeholder":
            return None  # filled from the feed
        if kind == "variable":
            var, o = n.attrs["var"], outs[0]

            def step(env, rt):
                try:
                    env[o] = rt.state.values[var]
                except KeyError:
                    raise GraphRunError(
                        f"variable {var.name!r} is used before it is initialized: run "
                        "tf.global_variables_initializer() (or its initializer) first") from None
            return step
        if kind == "assign":
            var, i, o = n.attrs["var"], ins[0], outs[0]
            src = n.inputs[0]
            exclusive = (src.node.kind in _FRESH_KINDS or
                         (src.node.kind == "fn" and not src.node.op.view)) and \
                len(readers.get(src, ())) == 1 and src not in self._fetched
            dtype = n.outputs[0].dtype

            def step(env, rt):
                a = env[i]
                if not exclusive or a.dtype != dtype:
                    a = np.array(a, dtype=dtype, copy=True)
                old = rt.state.values.get(var)
                if old is not None:
                    rt.retired.append(old)
                rt.state.values[var] = a
                env[o] = a
            return step
        if kind == "group":
            return None
        if kind == "random":
            a = n.attrs
            graph_seed = self.source.seed
            o = outs[0]

            def step(env, rt):
                rng = rt.state.rng(n, graph_seed, a["op_seed"], a["seed"])
                env[o] = np.asarray(a["sampler"](rng, a["shape"], a["dtype"]), a["dtype"])
            return step
        if kind == "ones_like":
            i, o = ins[0], outs[0]

            def step(env, rt):
                x = env[i]
                env[o] = np.ones(np.shape(x), x.dtype)
            return step
        if kind in ("summary", "merge"):
            make, o = n.attrs["encode"], outs[0]

            def step(env, rt):
                env[o] = make(*[env[i] for i in ins])
            return step
        raise NotImplementedError(f"graph node kind {kind!r} ({n.name})")

    # ---- running
    def run(self, feeds: list, state: State) -> list:
        """``feeds``: arrays in the order of ``self.feed_slots``. Returns the fetched arrays."""
        env, rt = self.start(feeds, state)
        self.run_steps(env, rt, range(len(self.steps)))
        return self.finish(env, rt, state, range(len(self.fetch_slots)))

    # ---- a run in parts (a jitted call whose backward runs later, see ember.graph.jit)
    def start(self, feeds: list, state: State):
        """A new run's slots (with ``feeds`` in place) and its per-run record."""
        env = [None] * self.nslots
        for (orig, s), a in zip(self.feed_slots, feeds):
            env[s] = a
        return env, _Run(state)

    def feed(self, env, index: int, array) -> None:
        """Set feed ``index`` of a started run (a value known only later: an upstream grad)."""
        env[self.feed_slots[index][1]] = array

    def run_steps(self, env, rt, indices) -> None:
        steps = self.steps
        i = 0
        try:
            for i in indices:
                step = steps[i]
                if step is not None:
                    step(env, rt)
        except GraphRunError:
            raise
        except Exception as e:
            n = self.nodes[i]
            shapes = " and ".join(str(np.shape(env[self.slot[v]])) for v in n.inputs)
            raise GraphRunError(f"{n.name} ({n.type}) failed on input shapes {shapes or '()'}: "
                                f"{e}") from e

    def finish(self, env, rt, state: State, which) -> list:
        """The fetched arrays ``which`` (indices into the fetches), made safe to hand out."""
        out = []
        owned_ids = {id(v) for v in state.values.values()}
        for k in which:
            a = env[self.fetch_slots[k]]
            if isinstance(a, np.ndarray) and (self.fetch_copy[k] or a.base is not None or
                                              id(a) in owned_ids):
                a = a.copy()
            out.append(a)
        self.last_allocated = rt.allocated
        if rt.retired:  # replaced variable storage is dead now: its buffer can be reused
            for a in rt.retired:
                if id(a) not in owned_ids:
                    _give(self.pool, a)
            rt.retired = []
        return out


def _give(pool, a, limit=8):
    """Return buffer ``a`` to the pool (a few per shape: a pool nobody draws from stays small)."""
    free = pool.setdefault((a.shape, a.dtype), [])
    if len(free) < limit:
        free.append(a)


class _Run:
    __slots__ = ("state", "ctxs", "retired", "allocated")

    def __init__(self, state):
        self.state = state
        self.ctxs = {}
        self.retired = []
        self.allocated = 0  # fresh buffers the elementwise kernels had to allocate
