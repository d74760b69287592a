"""Dead-code elimination: a run executes only the nodes its fetches need.

``extract`` copies the part of a graph that the fetched Values and ops depend on into a private
program graph (fed Values become placeholders there, so what computes them is cut off too). An
``assign`` nobody fetches is therefore never run — the TF1 lesson of ``tf.group``. ``prune``
drops nodes that later passes left without readers.
"""
from __future__ import annotations

from ..ir import Graph, Node, Value


class Program:
    """A graph prepared for one kind of ``run`` call: which Values are fetched and fed."""

    def __init__(self, graph: Graph, fetches: list, targets: list, feeds: list, source: Graph):
        self.graph = graph          # private copy that passes rewrite freely
        self.fetches = fetches      # program Values, one per fetched Value
        self.targets = targets      # program Nodes run for their effect (ops)
        self.feeds = feeds          # [(original Value, program placeholder Value)]
        self.source = source
        self.stats: dict[str, int] = {}

    @property
    def nodes(self) -> list[Node]:
        return self.graph.nodes

    def replace(self, old: Value, new: Value) -> None:
        """Make every reader of ``old`` read ``new``."""
        for n in self.graph.nodes:
            n.inputs = [new if v is old else v for v in n.inputs]
            for k, v in n.dyn_attrs.items():
                if v is old:
                    n.dyn_attrs[k] = new
        self.fetches = [new if v is old else v for v in self.fetches]

    def readers(self) -> dict:
        """Value -> list of nodes reading it."""
        out: dict = {}
        for n in self.graph.nodes:
            for v in n.deps:
                out.setdefault(v, []).append(n)
        return out

    def grad_refs(self) -> set:
        """Forward nodes whose context a ``grad`` node reads (their forward must run as is)."""
        return {n.attrs["forward"] for n in self.graph.nodes if n.kind == "grad"}


def extract(graph: Graph, fetches: list, targets: list, fed: list) -> Program:
    """Copy what ``fetches`` (Values) and ``targets`` (Nodes) need, cutting at ``fed`` Values."""
    fed_set = set(fed)
    need: set = set()
    stack = [v.node for v in fetches] + list(targets)
    fed_nodes_outputs = {v.node for v in fed}
    while stack:
        n = stack.pop()
        if n in need:
            continue
        need.add(n)
        for v in n.deps:
            if v not in fed_set:
                stack.append(v.node)
        stack.extend(n.control)
    prog = Graph()
    vmap: dict = {}
    nmap: dict = {}
    feeds = []
    for v in fed:
        name = v.node.name if v.node.kind == "placeholder" else v.name.replace(":", "_")
        ph = prog.add("placeholder", None, (), {"feed_of": v}, out=[(v.shape, v.dtype)],
                      name=name)
        vmap[v] = ph.outputs[0]
        feeds.append((v, ph.outputs[0]))
    for n in graph.nodes:
        if n not in need:
            continue
        if n in fed_nodes_outputs and all(o in fed_set for o in n.outputs):
            continue
        attrs = dict(n.attrs)
        if n.kind == "grad":
            attrs["forward"] = nmap[n.attrs["forward"]]
        c = Node(prog, n.kind, n.op, n.name, [vmap[v] for v in n.inputs], attrs,
                 {k: vmap[v] for k, v in n.dyn_attrs.items()}, [nmap[m] for m in n.control])
        c.outputs = [Value(c, i, o.shape, o.dtype) for i, o in enumerate(n.outputs)]
        prog.nodes.append(c)
        nmap[n] = c
        for o, co in zip(n.outputs, c.outputs):
            vmap.setdefault(o, co)
    return Program(prog, [vmap[v] for v in fetches], [nmap[t] for t in targets], feeds, graph)




def prune(prog: Program) -> int:
    """Remove nodes no fetch, target or effect needs; returns how many were removed."""
    need: set = set()
    stack = [v.node for v in prog.fetches] + list(prog.targets)
    while stack:
        n = stack.pop()
        if n in need:
            continue
        need.add(n)
        stack.extend(v.node for v in n.deps)
        stack.extend(n.control)
    before = len(prog.graph.nodes)
    prog.graph.nodes = [n for n in prog.graph.nodes if n in need]
    return before - len(prog.graph.nodes)
