"""Straight-line Python for a jitted program: one generated function per traced signature.

The replay of ``@ember.jit`` is one function compiled once with ``compile()``: a guard on the
arguments, then one line (or a few) per node of the optimized program, the gradient hand-over
to ``.grad``, the optimizer update and the return value. No interpreter loop, no closure per
node, no per-op dispatch.

How each node becomes code:

* a primitive call runs its own rule (``Op.forward(ctx, ...)`` / ``Op.backward(ctx, g)``) on
  locals, unless :mod:`ember.graph.lowering` has a lowering for it, which writes the same
  computation as NumPy ufunc calls with ``out=`` into buffers allocated once, or one-pass
  numba kernels (:mod:`.fused`), fused with its neighbours where the readers allow it;
* a fused elementwise kernel is its ufunc steps, written out (blocked kernels call the
  blocked runner); kernels that the memory plan pools share buffers once their last reader ran;
* captured tensors (parameters, buffers) are read live (``T.data``) on every call; random
  primitives read and advance ember's generator; state outputs are copied into their buffers.

Persistent buffers are never handed out: a fetched value (a result, a gradient given to a
``.grad``) is a fresh array, or copied when it could be a buffer or a view.
"""
from __future__ import annotations

import itertools

import numpy as np

from .passes import release_schedule
from .passes.fusion import BLOCK, UFUNCS, run_kernel
from . import lowering as _lower

_new = object.__new__

#: elementwise primitives written as a direct ufunc call (the rest call their UFUNCS entry)
_DIRECT = {}


def _direct():
    if not _DIRECT:
        from .. import ops
        for op, name in ((ops.Add, "add"), (ops.Sub, "subtract"), (ops.Mul, "multiply"),
                         (ops.Div, "divide"), (ops.Pow, "power"), (ops.Maximum, "maximum"),
                         (ops.Minimum, "minimum"), (ops.Neg, "negative"), (ops.Abs, "abs"),
                         (ops.Exp, "exp"), (ops.Log, "log"), (ops.Sqrt, "sqrt"),
                         (ops.Sin, "sin"), (ops.Cos, "cos"), (ops.Tanh, "tanh")):
            _DIRECT[UFUNCS[op]] = name
    return _DIRECT


def demoted(n) -> bool:
    """Whether eager mode may have demoted this rule's float64 result to the recorded float32
    (PyTorch's promotion, ``ember.dispatch._demote``): a float32 output from inputs that are
    not all float32."""
    out = n.outputs[0].dtype if n.outputs else None
    return (n.kind == "fn" and not getattr(n.op, "exact_dtype", False) and out == np.float32
            and any(v.dtype is not None and v.dtype != np.float32 for v in n.inputs))


class Unsupported(Exception):
    """A node the generator does not handle: the caller keeps the interpreted replay."""


class Emitter:
    """Source lines, the names they use, and the persistent buffers they write into."""

    def __init__(self):
        self.lines: list[str] = []
        import math
        self.ns: dict = {"np": np, "new": _new, "asarray": np.asarray, "nd": np.ndarray,
                         "misfinite": math.isfinite}
        for name in ("add", "subtract", "multiply", "divide", "power", "maximum", "minimum",
                     "negative", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "matmul",
                     "greater", "not_equal", "equal", "isfinite", "where", "copyto", "zeros",
                     "empty"):
            self.ns[name] = getattr(np, name)
        self._ids = itertools.count()
        self._consts: dict = {}
        self.indent = 1
        self.buffers: list = []  # every persistent buffer (never handed out)

    def name(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def bind(self, obj, prefix: str = "K") -> str:
        """A global name of the generated function holding ``obj``."""
        key = id(obj)
        hit = self._consts.get(key)
        if hit is not None and hit[1] is obj:
            return hit[0]
        n = self.name(prefix)
        self.ns[n] = obj
        self._consts[key] = (n, obj)
        return n

    def buffer(self, shape, dtype, prefix: str = "B") -> str:
        a = np.empty(tuple(shape), np.dtype(dtype))
        self.buffers.append(a)
        n = self.name(prefix)
        self.ns[n] = a
        return n

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def source(self, head: str) -> str:
        # a line a later lowering took over (a bias add fused into the ReLU after it) is None
        return head + "\n" + "\n".join(x for x in self.lines if x is not None) + "\n"

    def compile(self, head: str, fname: str, filename: str):
        src = self.source(head)
        code = compile(src, filename, "exec")
        exec(code, self.ns)
        return self.ns[fname], src


def _static(v) -> bool:
    return v.shape is not None and all(d is not None for d in v.shape) and v.dtype is not None


class ProgramWriter:
    """Writes the nodes of one optimized program (``ember.graph.passes.Program``)."""

    def __init__(self, em: Emitter, prog, fetched: set):
        self.em, self.prog = em, prog
        self.fetched = fetched          # Values handed out: never in a persistent buffer
        self.names: dict = {}           # Value -> expression naming its array
        self.fresh: set = set()         # Values known to be fresh arrays of this call
        self.ctx: dict = {}             # forward node -> name of its context (rule calls)
        self.lowered: dict = {}         # forward node -> (lowering, saved) for its backward
        self.keep = prog.grad_refs()
        self.release = release_schedule(prog)
        self.free: dict = {}            # (shape, dtype) -> buffer names free for reuse
        self.buf_of: dict = {}          # Value -> buffer name (pooled kernel outputs)
        self.readers = prog.readers()   # Value -> nodes reading it
        self.owned: dict = {}           # Value -> the persistent buffer a lowering gave it alone
        self.pending: dict = {}         # Value -> (line index, bias name): a deferred bias add
        self.colsum: dict = {}          # Value -> name of its precomputed column sums
        from .fused import kernels
        self.kern = kernels()           # the numba one-pass kernels, or None (NumPy calls)
        self.kname = None if self.kern is None else em.bind(self.kern, "KF")

    # ---- helpers for lowerings
    def out(self, v, prefix="B"):
        """A persistent buffer for ``v``, or None when ``v`` is fetched (make a fresh array)."""
        if v in self.fetched or not _static(v):
            return None
        return self.em.buffer(v.shape, v.dtype, prefix)

    def only_reader(self, v, node) -> bool:
        """Whether ``node`` is the one node that reads ``v``'s array. The grad node of ``v``'s
        own producer does not count when that lowering's backward does not read its output
        (``reads_output = False``); a fetch does not either (it reads the final array)."""
        prod = v.node
        for r in self.readers.get(v, ()):
            if r is node:
                continue
            low = self.lowered.get(prod, (None,))[0]
            if r.kind == "grad" and r.attrs.get("forward") is prod and low is not None and \
                    not getattr(low, "reads_output", True) and r.inputs[0] is v and \
                    all(x is not v for x in r.deps[1:]):
                continue
            return False
        return True

    def overwritable(self, v, node) -> bool:
        """Whether ``node`` may write its result over ``v``'s buffer: a buffer a lowering gave
        ``v`` alone (never pooled, never handed out) that only ``node`` reads."""
        return v in self.owned and v not in self.fetched and self.only_reader(v, node)

    def local(self, v) -> str:
        n = self.em.name("v")
        self.names[v] = n
        return n

    def write(self):
        for n in self.prog.nodes:
            self.node(n)

    def node(self, n):
        em, names = self.em, self.names
        kind = n.kind
        if kind == "placeholder":
            if n.outputs[0] not in names:
                raise Unsupported(f"placeholder {n.name} is not an argument")
            return
        if kind == "const":
            names[n.outputs[0]] = em.bind(n.attrs["value"], "K")
            return
        if kind == "capture":
            t = em.bind(n.attrs["tensor"], "T")
            em.emit(f"{self.local(n.outputs[0])} = {t}.data")
            return
        if kind == "ones_like":
            v = n.outputs[0]
            if not _static(v):
                raise Unsupported("ones_like of an unknown shape")
            a = np.ones(v.shape, v.dtype)
            a.flags.writeable = False  # shared by every call: rules never write their g
            names[v] = em.bind(a, "ONE")
            return
        if kind == "fn":
            low = _lower.find(n)
            if low is not None:
                saved = low.forward(self, n, [names[v] for v in n.inputs])
                self.lowered[n] = (low, saved)
                return
            return self._rule_forward(n)
        if kind == "grad":
            fwd = n.attrs["forward"]
            if fwd in self.lowered:
                low, saved = self.lowered[fwd]
                return low.backward(self, fwd, n, saved, names[n.inputs[1]])
            return self._rule_backward(n, fwd)
        if kind == "kernel":
            return self._kernel(n)
        if kind == "rng_fn":
            return self._random(n)
        if kind == "writeback":
            t = em.bind(n.attrs["tensor"], "T")
            em.emit(f"copyto({t}.data, {names[n.inputs[0]]}, casting='unsafe')")
            em.emit(f"{t}._vb[0] += 1")
            return
        raise Unsupported(f"node kind {kind!r} ({n.name})")

    def _call_args(self, n):
        args = ", ".join(self.names[v] for v in n.inputs)
        kw = [f"{k}={self.em.bind(v, 'A')}" for k, v in n.attrs.items()]
        kw += [f"{k}={self.names[v]}" for k, v in n.dyn_attrs.items()]
        return ", ".join([a for a in [args] + kw if a])

    def _outputs(self, n, res):
        em = self.em
        if len(n.outputs) == 1:
            o = self.local(n.outputs[0])
            em.emit(f"{o} = {res} if {res}.__class__ is nd else asarray({res})")
            if demoted(n):  # eager gave float32 where NumPy gives float64 (ember.dispatch)
                dt = em.bind(n.outputs[0].dtype, "DT")
                em.emit(f"if {o}.dtype is not {dt}: {o} = {o}.astype({dt})")
            return
        for i, v in enumerate(n.outputs):
            o = self.local(v)
            em.emit(f"{o} = {res}[{i}]")
            em.emit(f"if {o}.__class__ is not nd: {o} = asarray({o})")

    def _rule_forward(self, n):
        em = self.em
        op = em.bind(n.op, "OP")
        c = em.name("c")
        em.emit(f"{c} = new({op})")
        if n in self.keep:
            em.emit(f"{c}.needs = {(True,) * len(n.inputs)!r}")
            self.ctx[n] = c
        r = em.name("r")
        em.emit(f"{r} = {op}.forward({c}, {self._call_args(n)})")
        self._outputs(n, r)

    def _rule_backward(self, n, fwd):
        em = self.em
        c = self.ctx.get(fwd)
        if c is None or not all(_static(x) for x in fwd.inputs if x.dtype is not None):
            raise Unsupported(f"{n.name}: its forward's context or input shapes are unknown")
        op = em.bind(n.op, "OP")
        needs = n.attrs["needs"]
        em.emit(f"{c}.needs = {tuple(needs)!r}")
        r = em.name("r")
        em.emit(f"{r} = {op}.backward({c}, {self.names[n.inputs[1]]})")
        em.emit(f"if {r}.__class__ is not tuple: {r} = ({r},)")
        picks = [i for i, nd in enumerate(needs) if nd]
        for i, v in zip(picks, n.outputs):
            o = self.local(v)
            x = fwd.inputs[i]
            em.emit(f"{o} = {r}[{i}]")
            z = em.bind(np.dtype(x.dtype), "DT")  # no gradient from the rule: zero, as TF
            em.emit(f"if {o} is None: {o} = zeros({tuple(x.shape)!r}, {z})")
            em.emit(f"elif {o}.__class__ is not nd: {o} = asarray({o})")

    def _random(self, n):
        from .. import random as _random
        em = self.em
        op = em.bind(n.op, "OP")
        gs = em.bind(_random.get_state, "getstate")
        ss = em.bind(_random.set_state, "setstate")
        rest = [self.names[v] for v in n.inputs[1:]]
        kw = [f"{k}={em.bind(v, 'A')}" for k, v in n.attrs.items()]
        r = em.name("r")
        em.emit(f"{r} = {op}.forward(new({op}), {', '.join([gs + '()'] + rest + kw)})")
        em.emit(f"{ss}({r}[1])")
        for i, v in enumerate(n.outputs):
            em.emit(f"{self.local(v)} = asarray({r}[{i}])")

    def _kernel(self, n):
        em, names = self.em, self.names
        v = n.outputs[0]
        if not _static(v):
            raise Unsupported("kernel of an unknown shape")
        ins = [names[x] for x in n.inputs]
        key = (tuple(v.shape), np.dtype(v.dtype))
        for dead in self.release.get(n, ()):  # dying inputs first: the output may take one
            b = self.buf_of.get(dead)
            if b is not None:
                self.free.setdefault((tuple(dead.shape), np.dtype(dead.dtype)), []).append(b)
        if v in self.fetched:
            out = em.name("v")
            em.emit(f"{out} = empty({key[0]!r}, {em.bind(key[1], 'DT')})")
            self.fresh.add(v)
        elif n.attrs.get("pooled") and self.free.get(key):
            out = self.free[key].pop()
        else:
            out = em.buffer(*key)
        if n.attrs.get("pooled") and v not in self.fetched:
            self.buf_of[v] = out
        names[v] = out
        steps, nregs = n.attrs["steps"], n.attrs["nregs"]
        size = int(np.prod(key[0])) if key[0] else 1
        if size > BLOCK and len(key[0]) > 0 and key[0][0] != 1:
            st = em.bind(steps, "ST")
            scratch = em.bind({}, "SC")
            rk = em.bind(run_kernel, "runk")
            em.emit(f"{rk}({st}, {nregs}, [{', '.join(ins)}], {out}, {scratch})")
            return
        regs = [em.buffer(*key, prefix="R") for _ in range(nregs)]
        direct = _direct()
        for fn, args, dst in steps:
            a = [ins[k] if t == "x" else regs[k] for t, k in args]
            d = out if dst < 0 else regs[dst]
            if fn in direct:
                em.emit(f"{direct[fn]}({', '.join(a)}, out={d})")
            else:
                em.emit(f"{em.bind(fn, 'UF')}({d}, {', '.join(a)})")
