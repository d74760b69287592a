"""Building graphs: the primitive-call node (:func:`apply`) and the structural nodes
(placeholder, constant, variable, assign, group, random), plus Python operators on Values.

``apply(ops.MatMul, x, w)`` adds a node that will run ``MatMul.forward`` — the same rule the
eager engine runs — and infers its output shape and dtype now, so a mismatch is an error here.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import ops
from .infer import GraphShapeError, infer
from .ir import Graph, Node, Value, fmt_shape, get_default_graph

#: broadcasting elementwise primitives (symbolic broadcast shape rule, see ``infer``)
ELEMENTWISE = {ops.Add, ops.Sub, ops.Mul, ops.Div, ops.Pow, ops.Maximum, ops.Minimum, ops.Neg,
               ops.Abs, ops.Exp, ops.Log, ops.Sqrt, ops.Sin, ops.Cos, ops.Tanh, ops.Sigmoid,
               ops.Relu, ops.Where, ops.Equal, ops.NotEqual, ops.Less, ops.LessEqual,
               ops.Greater, ops.GreaterEqual}
_SAME_DTYPE = {ops.Add, ops.Sub, ops.Mul, ops.Div, ops.Pow, ops.Maximum, ops.Minimum}


def _graph_of(items) -> Graph:
    for x in items:
        if isinstance(x, Value):
            return x.node.graph
    return get_default_graph()


def _hint(items):
    for x in items:
        if isinstance(x, Value):
            return x.dtype
    return None


def to_array(x, dtype=None) -> np.ndarray:
    """A constant's array: Python numbers take ``dtype`` (the other operand's) when it is of the
    same kind, else float32 / int32 / bool, as TensorFlow converts them."""
    if isinstance(x, (bool, np.bool_)):
        return np.asarray(x, bool)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        same_kind = dtype is not None and (dtype.kind in "fc" or
                                           (dtype.kind in "iu" and isinstance(x, int)))
        if same_kind:
            return np.asarray(x, dtype)
        return np.asarray(x, np.float32 if isinstance(x, float) else np.int32)
    a = np.asarray(x)
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    elif a.dtype == np.float64 and isinstance(x, (list, tuple)):
        a = a.astype(np.float32)  # a Python list of floats is float32, as in TensorFlow
    return a


def as_value(x, dtype=None, graph: Graph | None = None) -> Value:
    """``x`` itself when it is a Value, else a constant node holding it."""
    if isinstance(x, Value):
        return x
    conv = getattr(x, "_as_graph_value", None)
    if conv is not None:
        return conv()
    return constant(to_array(x, dtype), graph=graph)


def apply(op, *inputs, name: str | None = None, dyn: dict | None = None, **attrs) -> Value:
    """Add a node running primitive ``op`` on ``inputs`` (Values or constants)."""
    graph = _graph_of(list(inputs) + list((dyn or {}).values()))
    hint = _hint(inputs)
    values = [as_value(x, hint, graph) for x in inputs]
    dyn = {k: as_value(v, None, graph) for k, v in (dyn or {}).items()}
    label = name or op.__name__
    if op in _SAME_DTYPE and len({v.dtype for v in values}) > 1:
        raise TypeError(f"{label}: inputs have different dtypes "
                        f"{' and '.join(f'{v.dtype} {fmt_shape(v.shape)}' for v in values)}; "
                        "cast one of them (tf.cast)")
    shape, dtype = infer(op, label, values, attrs, dyn, elementwise=op in ELEMENTWISE)
    node = graph.add("fn", op, values, attrs, out=[(shape, dtype)], name=name, dyn_attrs=dyn)
    return node.outputs[0]


def constant(value, dtype=None, shape=None, name: str = "Const", graph: Graph | None = None
             ) -> Value:
    """A node whose output is ``value`` (converted to ``dtype``; broadcast to ``shape``)."""
    graph = graph or get_default_graph()
    a = to_array(value, None if dtype is None else np.dtype(dtype))
    if shape is not None:
        a = np.broadcast_to(a, tuple(shape)).copy()
    a.flags.writeable = False  # constants are shared by every run
    return graph.add("const", None, (), {"value": a}, out=[(a.shape, a.dtype)], name=name
                     ).outputs[0]


def placeholder(dtype=np.float32, shape=None, name: str | None = None,
                graph: Graph | None = None) -> Value:
    """An input fed at run time (``feed_dict``); ``shape`` may have None dims, or be None."""
    graph = graph or get_default_graph()
    shape = None if shape is None else tuple(None if d in (None, -1) else int(d) for d in shape)
    return graph.add("placeholder", None, (), {}, out=[(shape, np.dtype(dtype))],
                     name=name or "Placeholder").outputs[0]


def random(sampler: Callable, shape, dtype=np.float32, name: str = "RandomOp",
           seed: int | None = None, graph: Graph | None = None) -> Value:
    """A node drawing ``sampler(rng, shape, dtype)`` anew on every run."""
    graph = graph or get_default_graph()
    shape = tuple(int(d) for d in shape)
    return graph.add("random", None, (), {"sampler": sampler, "shape": shape,
                                          "dtype": np.dtype(dtype), "seed": seed,
                                          "op_seed": next(graph._op_seed)},
                     out=[(shape, dtype)], name=name).outputs[0]


def ones_like(x: Value, name: str = "OnesLike") -> Value:
    return x.node.graph.add("ones_like", None, (x,), {}, out=[(x.shape, x.dtype)],
                            name=name).outputs[0]


def group(*items, name: str = "group") -> Node:
    """An op with no output that runs every op in ``items`` (Values, ops, nested lists)."""
    nodes = []

    def walk(x):
        if isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, Value):
            nodes.append(x.node)
        elif isinstance(x, Node):
            nodes.append(x)
        elif hasattr(x, "_as_graph_value"):
            nodes.append(x._as_graph_value().node)
        else:
            raise TypeError(f"group: expected graph ops or tensors, got {type(x).__name__}")

    walk(items)
    graph = nodes[0].graph if nodes else get_default_graph()
    return graph.add("group", None, (), {}, out=[], name=name, control=nodes)


class Variable(Value):
    """A persistent value: read by every op that uses it, changed only by ``assign`` ops.

    Its value lives in the ``Session`` that runs the graph, set by ``initializer``."""

    __slots__ = ("initial_value", "initializer", "trainable")

    def __init__(self, initial_value, trainable: bool = True, name: str | None = None,
                 dtype=None, graph: Graph | None = None):
        init = as_value(initial_value, None if dtype is None else np.dtype(dtype), graph)
        graph = init.node.graph
        if dtype is not None and init.dtype != np.dtype(dtype):
            init = apply(ops.Cast, init, dtype=np.dtype(dtype))
        if init.shape is None or not init.shape.is_fully_defined():
            raise GraphShapeError(f"Variable {name or ''}: the initial value's shape must be "
                                  f"fully known, got {fmt_shape(init.shape)}")
        base = name or "Variable"
        node = Node(graph, "variable", None, graph.unique_name(base), (), {})
        Value.__init__(self, node, 0, init.shape, init.dtype)
        node.outputs = [self]
        node.attrs["var"] = node
        graph.nodes.append(node)
        self.initial_value = init
        self.trainable = trainable
        with graph.name_scope(node.name + "/"):
            self.initializer = assign(self, init, name="Assign").node
        graph.variables.append(self)

    def assign(self, value, name: str | None = None) -> Value:
        return assign(self, value, name=name)

    def assign_add(self, delta, name: str | None = None) -> Value:
        return assign(self, apply(ops.Add, self, delta), name=name or "AssignAdd")

    def assign_sub(self, delta, name: str | None = None) -> Value:
        return assign(self, apply(ops.Sub, self, delta), name=name or "AssignSub")

    def value(self) -> Value:
        return self

    read_value = value

    def __repr__(self):
        return (f"<graph Variable {self.node.name!r} shape={fmt_shape(self.shape)} "
                f"dtype={self.dtype}>")


def assign(var: Variable, value, name: str | None = None) -> Value:
    """An op setting ``var`` to ``value`` when run; its output is the new value."""
    value = as_value(value, var.dtype, var.node.graph)
    if value.dtype != var.dtype:
        raise TypeError(f"assign to {var.node.name!r} ({var.dtype}): value has dtype {value.dtype}")
    if value.shape is not None and len(value.shape) == len(var.shape):
        for a, b in zip(value.shape, var.shape):
            if a is not None and a != b:
                raise GraphShapeError(f"assign to {var.node.name!r}: shape {fmt_shape(var.shape)} "
                                      f"cannot take a value of shape {fmt_shape(value.shape)}")
    elif value.shape is not None:
        raise GraphShapeError(f"assign to {var.node.name!r}: shape {fmt_shape(var.shape)} cannot "
                              f"take a value of shape {fmt_shape(value.shape)}")
    return var.node.graph.add("assign", None, (value,), {"var": var.node},
                              out=[(var.shape, var.dtype)], name=name or "Assign").outputs[0]


# ---- Python operators on Values (TensorFlow's: elementwise, broadcasting) -------------------

def _bin(op):
    def f(a, b):
        return apply(op, a, b)

    def r(a, b):
        return apply(op, as_value(b, a.dtype, a.node.graph), a)
    return f, r


def _cmp(op):
    return lambda a, b: apply(op, a, b)


def _getitem(a, index):
    if isinstance(index, list):
        index = np.asarray(index)
    return apply(ops.GetItem, a, index=index)


Value.__add__, Value.__radd__ = _bin(ops.Add)
Value.__sub__, Value.__rsub__ = _bin(ops.Sub)
Value.__mul__, Value.__rmul__ = _bin(ops.Mul)
Value.__truediv__, Value.__rtruediv__ = _bin(ops.Div)
Value.__pow__, Value.__rpow__ = _bin(ops.Pow)
Value.__matmul__, Value.__rmatmul__ = _bin(ops.MatMul)
Value.__neg__ = lambda a: apply(ops.Neg, a)
Value.__abs__ = lambda a: apply(ops.Abs, a)
Value.__lt__ = _cmp(ops.Less)
Value.__le__ = _cmp(ops.LessEqual)
Value.__gt__ = _cmp(ops.Greater)
Value.__ge__ = _cmp(ops.GreaterEqual)
Value.__getitem__ = _getitem
