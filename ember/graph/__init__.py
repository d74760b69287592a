"""Static graphs: one graph IR shared by the TF1-style API (``ember.compat.v1``), graph passes
and TensorBoard graph export.

Nodes are calls of the same primitives the eager engine runs (``ember/ops``); gradients are more
nodes running the primitives' backward rules. See ``docs/ARCHITECTURE.md`` ("Static graphs").

    import ember.graph as eg
    g = eg.Graph()
    with g.as_default():
        x = eg.placeholder(np.float32, (None, 3))
        y = eg.apply(ember.ops.Sum, x * x)
        dx, = eg.gradients(y, [x])
    eg.Session(graph=g).run([y, dx], {x: np.ones((2, 3))})
"""
from .autodiff import gradients
from .build import (ELEMENTWISE, Variable, apply, as_value, assign, constant, group, ones_like,
                    placeholder, random)
from .executor import Executable, GraphRunError, State
from .infer import GraphShapeError
from .ir import Graph, Node, Shape, Value, get_default_graph, reset_default_graph
from .session import Session, get_default_session

__all__ = ["Graph", "Node", "Value", "Shape", "Variable", "Session", "Executable", "State",
           "GraphRunError", "GraphShapeError", "apply", "as_value", "assign", "constant", "group",
           "ones_like", "placeholder", "random", "gradients", "get_default_graph",
           "reset_default_graph", "get_default_session", "ELEMENTWISE"]
