"""Memory plan: outputs of elementwise nodes are written into buffers taken from a pool, and a
buffer goes back to the pool as soon as the last node reading it has run, so the next
elementwise node of the same shape and dtype reuses it — in place when it is that node's own
dying input. The pool lives as long as the compiled run, so a training step repeated many times
allocates nothing for these nodes after the first run.

A buffer is handed back only when it is certainly dead: its value is not fetched, and every
reader is itself a pooled elementwise node (those keep no reference: no backward context, no
view, no variable storage). Anything else keeps its array until the run ends, as without the
plan.
"""
from __future__ import annotations

from .dce import Program
from .fusion import UFUNCS


def plan_memory(prog: Program) -> int:
    """Mark elementwise nodes as pooled (single ops become one-step kernels); returns how many."""
    keep = prog.grad_refs()
    count = 0
    for n in prog.nodes:
        if n.kind == "fn" and n.op in UFUNCS and n not in keep and not n.attrs and \
                not n.dyn_attrs and n.outputs[0].dtype.kind == "f":
            op = n.op
            n.kind, n.op = "kernel", None
            n.attrs = {"steps": [(UFUNCS[op], tuple(("x", i) for i in range(len(n.inputs))), -1)],
                       "nregs": 0, "ops": [op.__name__]}
            # an input read twice (x * x) is passed once per use: fine for a ufunc
        if n.kind == "kernel":
            n.attrs["pooled"] = True
            count += 1
    return count


def release_schedule(prog: Program) -> dict:
    """node -> Values whose buffer returns to the pool just before that node allocates its
    output (the node is their last reader)."""
    fetched = set(prog.fetches)
    readers = prog.readers()
    order = {n: i for i, n in enumerate(prog.nodes)}
    out: dict = {}
    for n in prog.nodes:
        if not n.attrs.get("pooled"):
            continue
        v = n.outputs[0]
        rd = readers.get(v, [])
        if v in fetched or not rd or not all(r.attrs.get("pooled") for r in rd):
            continue
        last = max(rd, key=order.__getitem__)
        out.setdefault(last, []).append(v)
    return out
