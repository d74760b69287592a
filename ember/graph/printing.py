"""Text views of a graph: one line per node (``str(graph)``) and Graphviz ``to_dot()``."""
from __future__ import annotations

from .ir import fmt_shape


def _out(n):
    if not n.outputs:
        return "(no output)"
    return ", ".join(f"{fmt_shape(o.shape)} {o.dtype}" for o in n.outputs)


def _ins(n):
    parts = [v.name for v in n.inputs]
    parts += [f"{k}={v.name}" for k, v in n.dyn_attrs.items()]
    parts += [f"^{c.name}" for c in n.control]
    if n.kind == "grad":
        parts.append(f"of={n.attrs['forward'].name}")
    if n.kind == "kernel":
        parts.append("[" + " > ".join(n.attrs["ops"]) + "]")
    if n.kind == "assign":
        parts.append(f"to={n.attrs['var'].name}")
    return ", ".join(parts)


def format_graph(graph) -> str:
    """``name = Type(inputs) -> shape dtype`` for every node, in run order."""
    lines = [f"Graph with {len(graph.nodes)} nodes:"]
    for n in graph.nodes:
        lines.append(f"  {n.name} = {n.type}({_ins(n)}) -> {_out(n)}")
    return "\n".join(lines)


def _q(s):
    return '"' + s.replace('"', '\\"') + '"'


def to_dot(graph) -> str:
    """Graphviz ``digraph``: nodes labelled with type and shape; name scopes as clusters."""
    lines = ["digraph ember_graph {", "  rankdir=TB;", "  node [shape=box, fontsize=10];"]
    scopes: dict = {}
    for n in graph.nodes:
        scope = n.name.rpartition("/")[0]
        scopes.setdefault(scope, []).append(n)
    k = 0
    for scope, nodes in scopes.items():
        indent = "  "
        if scope:
            lines.append(f"  subgraph cluster_{k} {{ label={_q(scope)};")
            indent = "    "
            k += 1
        for n in nodes:
            label = f"{n.name.rpartition('/')[2]}\\n{n.type}\\n{_out(n)}"
            lines.append(f"{indent}{_q(n.name)} [label={_q(label)}];")
        if scope:
            lines.append("  }")
    for n in graph.nodes:
        for v in n.deps:
            lines.append(f"  {_q(v.node.name)} -> {_q(n.name)} [label={_q(fmt_shape(v.shape))}];")
        for c in n.control:
            lines.append(f"  {_q(c.name)} -> {_q(n.name)} [style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"
