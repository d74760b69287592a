"""``Session``: runs parts of a graph, holding the variables' values between runs.

``sess.run(fetches, feed_dict)`` takes a Value, an op, or any nesting of lists, tuples, dicts
of them and returns the same structure with arrays (None for ops). Each distinct kind of call
(fetches + fed Values) is compiled once (dead-code elimination and the other passes) and cached.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .executor import Executable, GraphRunError, State
from .ir import Graph, Node, Value, fmt_shape, get_default_graph
from .passes import ALL

_default_sessions: list = []


def _check_feed(v: Value, x) -> np.ndarray:
    a = np.asarray(x)
    want = v.dtype
    if want is not None and a.dtype != want:
        ok = (np.can_cast(a.dtype, want, "same_kind")
              or (a.dtype.kind in "iub" and want.kind in "iufc"))
        if not ok:
            raise TypeError(f"feed for {v.node.name!r} ({want}, shape {fmt_shape(v.shape)}): "
                            f"got an array of dtype {a.dtype}, which does not convert to {want}")
        a = a.astype(want)
    if v.shape is not None:
        bad = a.ndim != len(v.shape) or any(d is not None and d != n for d, n in
                                            zip(v.shape, a.shape))
        if bad:
            raise ValueError(f"feed for {v.node.name!r}: shape {fmt_shape(v.shape)} cannot take "
                             f"an array of shape {a.shape}")
    return a


class Session:
    """Runs ``graph`` (the default graph if None). ``passes`` selects the graph passes."""

    def __init__(self, target: str = "", graph: Graph | None = None, config: Any = None,
                 passes=ALL):
        self.graph = graph or get_default_graph()
        self.passes = tuple(passes)
        self._state = State()
        self._cache: dict = {}
        self._closed = False

    # ---- the structure of fetches
    def _leaf(self, x):
        if isinstance(x, (Value, Node)):
            return x
        conv = getattr(x, "_as_graph_value", None)
        if conv is not None:
            return conv()
        if isinstance(x, str):
            g = self.graph
            return g.get_tensor_by_name(x) if ":" in x else g.get_operation_by_name(x)
        raise TypeError(f"cannot fetch {type(x).__name__} {x!r}: fetch graph tensors or ops "
                        "(or lists, tuples, dicts of them)")

    def _flatten(self, f, leaves):
        if isinstance(f, dict):
            return {k: self._flatten(v, leaves) for k, v in f.items()}
        if isinstance(f, (list, tuple)) and not hasattr(f, "_as_graph_value"):
            items = [self._flatten(v, leaves) for v in f]
            if isinstance(f, tuple) and hasattr(f, "_fields"):  # a namedtuple
                return type(f)(*items)
            return type(f)(items)
        leaves.append(self._leaf(f))
        return len(leaves) - 1

    @staticmethod
    def _rebuild(s, results):
        if isinstance(s, dict):
            return {k: Session._rebuild(v, results) for k, v in s.items()}
        if isinstance(s, (list, tuple)):
            items = [Session._rebuild(v, results) for v in s]
            return type(s)(*items) if hasattr(s, "_fields") else type(s)(items)
        return results[s]

    # ---- running
    def run(self, fetches, feed_dict: dict | None = None, options=None, run_metadata=None):
        """Run what ``fetches`` needs, with ``feed_dict`` {Value: array} as inputs."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        leaves: list = []
        structure = self._flatten(fetches, leaves)
        feed_dict = feed_dict or {}
        fed, arrays = [], []
        for k, x in feed_dict.items():
            v = self._leaf(k)
            if not isinstance(v, Value):
                raise TypeError(f"feed_dict key {k!r} is an op, not a tensor")
            if v.node.graph is not self.graph:
                raise ValueError(f"feed_dict key {v.name!r} is not in this session's graph")
            fed.append(v)
            arrays.append(_check_feed(v, x))
        for v in leaves:
            if v.graph is not self.graph:
                raise ValueError(f"fetch {v.name!r} is not an element of this session's graph")
        key = (tuple(leaves), tuple(fed))
        exe = self._cache.get(key)
        if exe is None:
            vals = [v for v in leaves if isinstance(v, Value)]
            ops_ = [v for v in leaves if not isinstance(v, Value)]
            exe = Executable(self.graph, vals, ops_, fed, self.passes)
            exe._order = [isinstance(v, Value) for v in leaves]
            self._cache[key] = exe
        outs = iter(exe.run(arrays, self._state))
        results = [next(outs) if is_value else None for is_value in exe._order]
        return self._rebuild(structure, results)

    def executable(self, fetches, feed_keys=()) -> Executable:
        """The compiled run for ``fetches`` (Values/ops) with ``feed_keys`` fed (for inspection)."""
        leaves: list = []
        self._flatten(fetches, leaves)
        vals = [v for v in leaves if isinstance(v, Value)]
        return Executable(self.graph, vals, [v for v in leaves if not isinstance(v, Value)],
                          list(feed_keys), self.passes)

    def close(self) -> None:
        self._closed = True
        self._cache.clear()
        self._state = State()

    def __enter__(self):
        _default_sessions.append(self)
        return self

    def __exit__(self, *exc):
        if _default_sessions and _default_sessions[-1] is self:
            _default_sessions.pop()
        self.close()

    def as_default(self):
        return _DefaultSession(self)


class _DefaultSession:
    def __init__(self, s):
        self.s = s

    def __enter__(self):
        _default_sessions.append(self.s)
        return self.s

    def __exit__(self, *exc):
        _default_sessions.pop()


def get_default_session() -> Session | None:
    return _default_sessions[-1] if _default_sessions else None


def _eval(self, feed_dict=None, session=None):
    s = session or get_default_session()
    if s is None:
        raise ValueError(f"{self.name}.eval(): no default session (use `with tf.Session():`)")
    return s.run(self, feed_dict)


Value.eval = _eval
Node.run = lambda self, feed_dict=None, session=None: (session or get_default_session()).run(
    self, feed_dict)

__all__ = ["Session", "GraphRunError", "get_default_session"]
