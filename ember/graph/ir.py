"""The graph IR: a :class:`Graph` of :class:`Node` s whose outputs are :class:`Value` s.

A node is one call of a primitive (``kind == "fn"``: an ``ember.ops`` ``Function`` subclass run
with its ``forward`` rule), the backward rule of such a call (``kind == "grad"``), or one of a few
structural kinds the executor knows: ``placeholder``, ``const``, ``variable`` (a read of a
variable's current value), ``assign``, ``group`` (runs its control inputs), ``random``,
``ones_like``, ``summary``/``merge`` (TensorBoard protobufs) and, after fusion, ``kernel``.

Nodes are appended in creation order, which is a topological order (inputs exist before the
node that reads them). Values keep the inferred static shape (a tuple whose unknown dims are
None, or None for an unknown rank) and dtype.
"""
from __future__ import annotations

import contextlib
import itertools
from typing import Any, Iterator

import numpy as np


class Shape(tuple):
    """A static shape: a tuple whose unknown dimensions are None (TF's ``TensorShape`` names)."""

    def as_list(self) -> list:
        return list(self)

    @property
    def ndims(self) -> int:
        return len(self)

    def is_fully_defined(self) -> bool:
        return all(d is not None for d in self)

    def __repr__(self):
        return "(" + ", ".join("?" if d is None else str(d) for d in self) + \
            ("," if len(self) == 1 else "") + ")"


def fmt_shape(shape) -> str:
    """'(?, 784)' for a known rank, '<unknown>' for an unknown one."""
    return "<unknown>" if shape is None else repr(Shape(shape))


class Value:
    """A symbolic tensor: output ``index`` of ``node``. Identity-hashed (feed_dict keys)."""

    __slots__ = ("node", "index", "shape", "dtype", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Value goes to Value's reflected operator

    def __init__(self, node: "Node", index: int, shape, dtype):
        self.node = node
        self.index = index
        self.shape = None if shape is None else Shape(shape)
        self.dtype = np.dtype(dtype) if dtype is not None else None

    @property
    def name(self) -> str:
        return f"{self.node.name}:{self.index}"

    @property
    def op(self) -> "Node":
        return self.node

    @property
    def graph(self) -> "Graph":
        return self.node.graph

    def get_shape(self) -> Shape | None:
        return self.shape

    @property
    def ndim(self):
        return None if self.shape is None else len(self.shape)

    def __repr__(self):
        return f"<graph tensor {self.name!r} shape={fmt_shape(self.shape)} dtype={self.dtype}>"

    def __bool__(self):
        raise TypeError(f"graph tensor {self.name!r} has no value until it is run: use it in "
                        "the graph (or sess.run it) instead of Python control flow")

    __hash__ = object.__hash__

    def __iter__(self):
        raise TypeError(f"graph tensor {self.name!r} is not iterable before it is run")


class Node:
    """One operation of a graph. ``inputs`` are Values (positional arrays of the rule);
    ``attrs`` are static keyword attributes; ``dyn_attrs`` are keyword attributes whose value is
    a Value resolved when the graph runs (per-call arrays such as targets); ``control`` are
    nodes that must run first (``group``)."""

    __slots__ = ("graph", "id", "kind", "op", "name", "inputs", "attrs", "dyn_attrs",
                 "control", "outputs", "__weakref__")

    def __init__(self, graph, kind, op, name, inputs, attrs, dyn_attrs=None, control=()):
        self.graph = graph
        self.id = next(graph._ids)
        self.kind = kind
        self.op = op
        self.name = name
        self.inputs = list(inputs)
        self.attrs = dict(attrs or {})
        self.dyn_attrs = dict(dyn_attrs or {})
        self.control = list(control)
        self.outputs: list[Value] = []

    @property
    def type(self) -> str:
        """The op's type name (TensorBoard's ``op`` field)."""
        if self.kind in ("fn", "grad"):
            return self.op.__name__ + ("Grad" if self.kind == "grad" else "")
        return _KIND_TYPES.get(self.kind, self.kind)

    @property
    def deps(self) -> list[Value]:
        """Every Value this node reads (inputs, then dynamic attributes)."""
        return self.inputs + list(self.dyn_attrs.values())

    def __repr__(self):
        return f"<graph op {self.name!r} ({self.type})>"

    __hash__ = object.__hash__


_KIND_TYPES = {"placeholder": "Placeholder", "const": "Const", "variable": "VariableV2",
               "assign": "Assign", "group": "NoOp", "random": "RandomOp",
               "ones_like": "OnesLike", "summary": "Summary", "merge": "MergeSummary",
               "kernel": "FusedElementwise", "capture": "Captured", "rng_fn": "RandomOp"}


class Graph:
    """A dataflow graph. Build into it with ``with graph.as_default():`` (or the default one)."""

    def __init__(self):
        self.nodes: list[Node] = []
        self._ids = itertools.count()
        self._names: dict[str, int] = {}
        self._scopes: list[str] = []
        self.variables: list = []
        self.collections: dict[str, list] = {}
        self.seed: int | None = None
        self._op_seed = itertools.count()
        self._control: list[Node] = []  # ops every new op runs after (control_dependencies)

    # ---- building
    def unique_name(self, base: str, scoped: bool = True) -> str:
        """``scope/base``, with ``_1``, ``_2``... appended when taken (TensorFlow's rule)."""
        name = "/".join(self._scopes + [base]) if scoped and self._scopes else base
        k = self._names.get(name)
        if k is None:
            self._names[name] = 1
            return name
        while f"{name}_{k}" in self._names:
            k += 1
        self._names[name] = k + 1
        self._names[f"{name}_{k}"] = 1
        return f"{name}_{k}"

    def add(self, kind, op, inputs=(), attrs=None, *, out=(), name=None, dyn_attrs=None,
            control=()) -> Node:
        """Append a node; ``out`` is a list of (shape, dtype), one per output."""
        for v in list(inputs) + list((dyn_attrs or {}).values()):
            if v.node.graph is not self:
                raise ValueError(f"{v.name!r} belongs to another graph than the op being built "
                                 "(use one graph, or build inside `with graph.as_default()`)")
        base = name or (op.__name__ if kind == "fn" else _KIND_TYPES.get(kind, kind))
        if self._control:
            control = list(control) + [c for c in self._control if c not in control]
            # a variable read inside the block reads after the dependencies have run: a fresh
            # read node, created now (so after them), instead of the variable's first read
            inputs = [self._read_after(v) for v in inputs]
        node = Node(self, kind, op, self.unique_name(base), inputs, attrs, dyn_attrs, control)
        node.outputs = [Value(node, i, s, d) for i, (s, d) in enumerate(out)]
        self.nodes.append(node)
        return node

    def _read_after(self, v: Value) -> Value:
        if v.node.kind != "variable":
            return v
        return self.add("variable", None, (), {"var": v.node.attrs["var"]},
                        out=[(v.shape, v.dtype)], name=v.node.name + "/read").outputs[0]

    @contextlib.contextmanager
    def control_dependencies(self, deps) -> Iterator[None]:
        """Ops built inside run after ``deps`` (ops or tensors; None clears the outer ones), as
        TensorFlow 1's: only ops created inside get the dependency (``tf.identity(x)`` is a new
        op; ``y = x`` is not), and a variable they read is read after ``deps`` ran."""
        saved = self._control
        if deps is None:
            self._control = []
        else:
            nodes = []
            for d in (deps if isinstance(deps, (list, tuple)) else [deps]):
                n = d.node if isinstance(d, Value) else d
                if hasattr(d, "_as_graph_value"):
                    n = d._as_graph_value().node
                if not isinstance(n, Node) or n.graph is not self:
                    raise TypeError(f"control_dependencies: {d!r} is not an op or tensor of "
                                    "this graph")
                nodes.append(n)
            self._control = saved + [n for n in nodes if n not in saved]
        try:
            yield
        finally:
            self._control = saved

    @contextlib.contextmanager
    def name_scope(self, name: str) -> Iterator[str]:
        """Prefix the names of the nodes built inside with ``name/`` (made unique)."""
        if not name:
            yield ""
            return
        if name.endswith("/"):  # an absolute scope, as TensorFlow allows
            saved, self._scopes = self._scopes, [name.rstrip("/")]
        else:
            full = self.unique_name(name)
            saved, self._scopes = self._scopes, full.split("/")
        try:
            yield "/".join(self._scopes) + "/"
        finally:
            self._scopes = saved

    @contextlib.contextmanager
    def as_default(self) -> Iterator["Graph"]:
        _stack.append(self)
        try:
            yield self
        finally:
            _stack.pop()

    def add_to_collection(self, key: str, item: Any) -> None:
        self.collections.setdefault(key, []).append(item)

    def get_collection(self, key: str) -> list:
        return list(self.collections.get(key, []))

    def get_operations(self) -> list[Node]:
        return list(self.nodes)

    def get_operation_by_name(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no operation named {name!r} in the graph")

    def get_tensor_by_name(self, name: str) -> Value:
        op, _, idx = name.partition(":")
        return self.get_operation_by_name(op).outputs[int(idx or 0)]

    def finalize(self):  # TensorFlow's name; the graph stays editable here
        return self

    # ---- looking at it
    def __str__(self) -> str:
        from .printing import format_graph
        return format_graph(self)

    def print(self) -> None:
        """Print one line per node: name, type, inputs, output shapes and dtypes."""
        print(str(self))

    def to_dot(self) -> str:
        """Graphviz text of the graph, name scopes as clusters."""
        from .printing import to_dot
        return to_dot(self)

    def as_graph_def(self) -> bytes:
        """The graph as a serialized TensorFlow ``GraphDef`` protobuf (for TensorBoard)."""
        from .graphdef import graph_def
        return graph_def(self)

    def __len__(self):
        return len(self.nodes)


_stack: list[Graph] = []
_default = [Graph()]


def get_default_graph() -> Graph:
    """The graph new ops go into: the innermost ``as_default()`` one, else the global default."""
    return _stack[-1] if _stack else _default[0]


def reset_default_graph() -> Graph:
    """Replace the global default graph by a new, empty one."""
    if _stack:
        raise RuntimeError("reset_default_graph() called inside a `with graph.as_default()` block")
    _default[0] = Graph()
    return _default[0]
