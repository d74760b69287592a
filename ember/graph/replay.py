"""The generated replay of one traced ``@ember.jit`` signature (see :mod:`.codegen`).

``generate(...)`` writes one function ``replay(*args)``:

1. a guard: the arguments' types, shapes, dtypes and ``requires_grad``, the grad mode and the
   train/eval flags of the modules the function sees, against the traced signature; when it
   fails the function returns :data:`MISS` and the caller takes the general path;
2. the traced training side effects in their order: ``zero_grad`` (written inline for the
   optimizers' own method), the program (forward, backward), gradients handed to ``.grad`` as
   the autograd engine would, and ``optimizer.step()`` (lowered by :mod:`.optim_lowering`);
3. the result, rebuilt as the function returned it.
"""
from __future__ import annotations

import numpy as np

from ..autograd import grad_mode
from ..dispatch import _plain as plain_tensor  # the dispatcher's graph-free result tensor
from ..tensor import Tensor
from .codegen import Emitter, ProgramWriter, Unsupported
from .optim_lowering import emit_step

MISS = object()


def _guard(em, args, mods):
    """Conditions (source) under which the traced signature holds for ``A``."""
    conds = []
    for i, a in enumerate(args):
        x = f"x{i}"
        if isinstance(a, Tensor):
            conds += [f"{x}.__class__ is {em.bind(type(a), 'TY')}",
                      f"{x}.data.__class__ is nd", f"{x}.data.shape == {tuple(a.shape)!r}",
                      f"{x}.data.dtype is {em.bind(a.data.dtype, 'DT')}",
                      f"{x}.requires_grad is {bool(a.requires_grad)}"]
        elif isinstance(a, np.ndarray):
            conds += [f"{x}.__class__ is nd", f"{x}.shape == {tuple(a.shape)!r}",
                      f"{x}.dtype is {em.bind(a.dtype, 'DT')}"]
        else:
            try:
                hash(a)
                conds += [f"{x}.__class__ is {em.bind(type(a), 'TY')}",
                          f"{x} == {em.bind(a, 'AV')}"]
            except TypeError:
                conds.append(f"{x} is {em.bind(a, 'AV')}")
    conds.append(f"{em.bind(grad_mode, 'GM')}._enabled is {bool(grad_mode._enabled)}")
    for m in mods:
        conds.append(f"{em.bind(m, 'MOD')}.training is {bool(m.training)}")
    return conds


def _zero_grad(em, obj, kw):
    from ..optim.optimizer import Optimizer
    if isinstance(obj, Optimizer) and type(obj).zero_grad is Optimizer.zero_grad:
        to_none = kw.get("set_to_none", True)
        for g in obj.param_groups:
            for p in g["params"]:
                P = em.bind(p, "P")
                if to_none:
                    em.emit(f"{P}.grad = None")
                else:
                    em.emit(f"if {P}.grad is not None: {P}.grad.data[...] = 0")
        return
    args = ", ".join(f"{k}={em.bind(v, 'AV')}" for k, v in kw.items())
    em.emit(f"{em.bind(obj, 'OBJ')}.zero_grad({args})")


def generate(exe, arg_slots, structure, events, grad_targets, args, mods, filename):
    """The replay function of one compiled signature, and its source (for inspection)."""
    prog = exe.program
    em = Emitter()
    em.ns.update(MISS=MISS, mkT=plain_tensor, TensorT=Tensor)
    persist = set()
    em.ns["PERSIST"] = persist
    em.ns["own"] = lambda a: a.copy() if a.base is not None or id(a) in persist else a
    n_res = len(prog.fetches) - len(grad_targets)
    w = ProgramWriter(em, prog, set(prog.fetches))
    for (orig, ph), i in zip(prog.feeds, arg_slots):
        a = args[i]
        w.names[ph] = f"a{i}"
        em.emit(f"a{i} = x{i}.data" if isinstance(a, Tensor) else f"a{i} = x{i}")
    results = []
    for ev in events:
        if ev[0] == "zero_grad":
            _zero_grad(em, ev[1], ev[2])
        elif ev[0] == "step":
            emit_step(em, ev[1], ev[2])
        elif ev[0] == "graph":
            w.write()
            given = set()
            for t, v in zip(grad_targets, prog.fetches[n_res:]):
                g = _handed(w, em, v, given)
                if v.dtype != t.data.dtype:
                    em.emit(f"{g} = {g}.astype({em.bind(t.data.dtype, 'DT')})")
                T = em.bind(t, "P")
                em.emit(f"if {T}.grad is None:")  # a new leaf gradient, built inline
                em.emit(f"    gt = new(TensorT); gt.data = {g}; gt.grad = None; "
                        "gt.requires_grad = False; gt._ctx = None; gt._vb = [0]; "
                        f"gt._hooks = None; {T}.grad = gt")
                em.emit(f"else: {T}.grad.data += {g}")
            for v in prog.fetches[:n_res]:
                r = em.name("res")
                em.emit(f"{r} = mkT({_handed(w, em, v, set())})")
                results.append(r)
        else:  # pragma: no cover - the tracer makes no other events
            raise Unsupported(f"event {ev[0]!r}")
    em.emit(f"return {_rebuild(em, structure, results)}")
    xs = "".join(f"x{i}, " for i in range(len(args)))
    head = (f"def replay(*A):\n    if len(A) != {len(args)}:\n        return MISS\n"
            f"    {xs or '_'} = A\n" if args else
            "def replay(*A):\n    if A:\n        return MISS\n")
    conds = _guard(em, args, mods)
    for n in prog.nodes:  # parameters and buffers read live: the buffers were sized for them
        if n.kind == "capture":
            t = n.attrs["tensor"]
            T = em.bind(t, "P")
            conds += [f"{T}.data.__class__ is nd", f"{T}.data.shape == {tuple(t.shape)!r}",
                      f"{T}.data.dtype is {em.bind(t.data.dtype, 'DT')}"]
    head += "    if not (" + " and ".join(conds) + "):\n        return MISS"
    persist.update(id(b) for b in em.buffers)
    fn, src = em.compile(head, "replay", filename)
    return fn, src, em


def _handed(w, em, v, given):
    """The name of fetched Value ``v``'s array, made safe to hand out (a fresh array)."""
    name = w.names[v]
    kind = v.node.kind
    if kind in ("capture", "const") or name in given:
        out = em.name("h")
        em.emit(f"{out} = {name}.copy()")
        return out
    given.add(name)
    if v in w.fresh:
        return name
    out = em.name("h")
    em.emit(f"{out} = own({name})")
    return out


def _rebuild(em, s, results):
    tag, body = s
    if tag == "leaf":
        return results[body]
    if tag == "array":
        return f"{results[body]}.data"
    if tag == "const":
        return em.bind(body, "AV")
    if tag is dict:
        return "{" + ", ".join(f"{em.bind(k, 'AV')}: {_rebuild(em, v, results)}"
                               for k, v in body.items()) + "}"
    items = [_rebuild(em, v, results) for v in body]
    if tag is tuple:
        return "(" + "".join(i + ", " for i in items) + ")"
    if tag is list:
        return "[" + ", ".join(items) + "]"
    return f"{em.bind(tag, 'TY')}([{', '.join(items)}])"
