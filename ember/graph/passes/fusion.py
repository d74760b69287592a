"""Elementwise fusion: a chain (a tree) of elementwise primitive calls becomes one ``kernel`` node
that computes it block by block, so each block of the inputs is read once and the intermediates
live in small scratch buffers instead of full-size temporaries (one pass over memory).

Which calls may fuse: an elementwise primitive listed in :data:`UFUNCS`, of a floating dtype and
known rank, whose forward context no backward node reads, and whose output feeds exactly one
node (in the same fused group, of the same static shape, None dims allowed) and is not fetched.
Every intermediate is computed at the group's output shape: elementwise ops commute with
broadcasting, so this is exact even when an unknown dim turns out to be 1 at run time.

:data:`UFUNCS` gives, per primitive, its forward written with NumPy ``out=`` arguments so it can
write into a given buffer; ``tests/graph/test_passes.py`` checks every entry against the
primitive's own ``forward`` rule, so the table cannot drift from ``ember/ops``.
"""
from __future__ import annotations

import numpy as np

from ... import ops
from .dce import Program


def _sigmoid(out, a):  # Sigmoid.forward's formula: (1 + tanh(x / 2)) / 2
    h = out.dtype.type(0.5)
    np.multiply(a, h, out=out)
    np.tanh(out, out=out)
    np.add(out, out.dtype.type(1), out=out)
    np.multiply(out, h, out=out)


def _relu(out, a):
    np.maximum(a, out.dtype.type(0), out=out)


def _u(f):
    return lambda out, *args: f(*args, out=out)


#: primitive -> function(out, *input_arrays) computing its forward into ``out``
UFUNCS = {
    ops.Add: _u(np.add), ops.Sub: _u(np.subtract), ops.Mul: _u(np.multiply),
    ops.Div: _u(np.divide), ops.Pow: _u(np.power), ops.Maximum: _u(np.maximum),
    ops.Minimum: _u(np.minimum), ops.Neg: _u(np.negative), ops.Abs: _u(np.abs),
    ops.Exp: _u(np.exp), ops.Log: _u(np.log), ops.Sqrt: _u(np.sqrt), ops.Sin: _u(np.sin),
    ops.Cos: _u(np.cos), ops.Tanh: _u(np.tanh), ops.Relu: _relu, ops.Sigmoid: _sigmoid,
}

BLOCK = 1 << 16  # elements per block: 256 KB of float32, inside a core's L2 cache


def eligible(n, keep) -> bool:
    o = n.outputs[0] if n.outputs else None
    return (n.kind == "fn" and n.op in UFUNCS and n not in keep and not n.attrs and
            not n.dyn_attrs and o.dtype.kind == "f" and o.shape is not None)


def fuse_elementwise(prog: Program) -> int:
    """Fuse elementwise trees into kernel nodes; returns how many nodes were merged away."""
    keep = prog.grad_refs()
    readers = prog.readers()
    fetched = set(prog.fetches)
    group: dict = {}  # node -> root node of its fused tree
    nodes = prog.nodes
    for n in reversed(nodes):  # consumers first, so a producer joins its consumer's group
        if not eligible(n, keep):
            continue
        root = n
        out = n.outputs[0]
        rd = readers.get(out, [])
        if out not in fetched and len(rd) == 1 and rd[0] in group and \
                rd[0].outputs[0].shape == out.shape and out.dtype == rd[0].outputs[0].dtype:
            root = group[rd[0]]
        group[n] = root
    members: dict = {}
    for n in nodes:
        if n in group:
            members.setdefault(group[n], []).append(n)
    merged = set()
    for root, ms in members.items():
        if len(ms) < 2:
            continue
        _make_kernel(root, ms)
        merged.update(m for m in ms if m is not root)
    prog.graph.nodes = [n for n in nodes if n not in merged]
    return len(merged)


def _make_kernel(root, ms):
    """Turn ``root`` into a kernel computing the tree ``ms`` (in topological order)."""
    inside = {m.outputs[0]: i for i, m in enumerate(ms)}
    ext: list = []
    steps = []
    reg_of = {}  # member index -> scratch register
    free: list = []
    nregs = 0
    last_use = {}
    for i, m in enumerate(ms):
        for v in m.inputs:
            if v in inside:
                last_use[inside[v]] = i
    for i, m in enumerate(ms):
        args = []
        for v in m.inputs:
            if v in inside:
                args.append(("r", reg_of[inside[v]]))
            else:
                if v not in ext:
                    ext.append(v)
                args.append(("x", ext.index(v)))
        for j, li in list(last_use.items()):  # registers whose value was last read here
            if li == i and j in reg_of:
                free.append(reg_of.pop(j))
                del last_use[j]
        if m is root:
            dst = -1
        elif free:
            dst = free.pop()
        else:
            dst, nregs = nregs, nregs + 1
        if m is not root:
            reg_of[i] = dst
        steps.append((UFUNCS[m.op], tuple(args), dst))
    names = [m.op.__name__ for m in ms]
    root.kind, root.op = "kernel", None
    root.inputs = ext
    root.attrs = {"steps": steps, "nregs": nregs, "ops": names}


def run_kernel(steps, nregs, arrays, out, scratch: dict):
    """Run fused ``steps`` over ``arrays`` into ``out``, blocks of rows at a time."""
    n = out.size
    if n <= BLOCK or out.ndim == 0 or out.shape[0] == 1:
        regs = _scratch(scratch, out.shape, out.dtype, nregs)
        _steps(steps, arrays, regs, out)
        return out
    rows = out.shape[0]
    per = max(1, BLOCK // (n // rows))
    full = [np.ndim(a) == out.ndim and np.shape(a)[0] == rows for a in arrays]
    regs = _scratch(scratch, (per,) + out.shape[1:], out.dtype, nregs)
    for s in range(0, rows, per):
        e = min(rows, s + per)
        part = [a[s:e] if f else a for a, f in zip(arrays, full)]
        r = regs if e - s == per else [x[:e - s] for x in regs]
        _steps(steps, part, r, out[s:e])
    return out


def _steps(steps, arrays, regs, out):
    for fn, args, dst in steps:
        fn(out if dst < 0 else regs[dst],
           *[arrays[k] if t == "x" else regs[k] for t, k in args])


def _scratch(cache, shape, dtype, nregs):
    key = (shape, dtype)
    regs = cache.get(key)
    if regs is None or len(regs) < nregs:
        regs = cache[key] = [np.empty(shape, dtype) for _ in range(nregs)]
    return regs
