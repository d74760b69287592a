"""Constant folding: a primitive call whose inputs are all constants runs once, while the
program is prepared, and becomes a constant (e.g. ``1 - beta1`` in an optimizer's update)."""
from __future__ import annotations

import numpy as np

from .dce import Program


def fold_constants(prog: Program) -> int:
    """Replace foldable nodes by ``const`` nodes in place; returns how many were folded."""
    keep = prog.grad_refs()  # a forward whose context a backward node reads must really run
    folded = 0
    for n in prog.nodes:
        if n.kind != "fn" or n in keep or not all(v.node.kind == "const" for v in n.deps):
            continue
        ctx = n.op.__new__(n.op)
        ctx.needs = (False,) * len(n.inputs)
        args = [v.node.attrs["value"] for v in n.inputs]
        kw = dict(n.attrs)
        kw.update({k: v.node.attrs["value"] for k, v in n.dyn_attrs.items()})
        out = np.asarray(n.op.forward(ctx, *args, **kw))
        if out.dtype != n.outputs[0].dtype:
            out = out.astype(n.outputs[0].dtype)
        out.flags.writeable = False
        n.kind, n.op, n.inputs, n.dyn_attrs, n.attrs = "const", None, [], {}, {"value": out}
        folded += 1
    return folded
