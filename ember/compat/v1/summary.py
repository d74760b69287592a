"""``tf.summary``: summary ops (their value is a serialized ``Summary`` protobuf, made when the
op runs) and ``FileWriter``, which writes them and the graph to a TensorBoard event file
(``ember.io.SummaryWriter`` underneath)."""
from __future__ import annotations

import numpy as np

from ...graph.ir import Graph, Value, get_default_graph
from ...io import _protobuf as pb
from ...io.tensorboard import SummaryWriter, histogram_proto

_KEY = "summaries"


def _add(kind, encode, inputs, name, collections):
    graph = inputs[0].node.graph if inputs else get_default_graph()
    node = graph.add(kind, None, inputs, {"encode": encode}, out=[((), np.dtype(object))],
                     name=name)
    for key in collections if collections is not None else [_KEY]:
        graph.add_to_collection(key, node.outputs[0])
    return node.outputs[0]


def _tag(name, family):
    """TensorFlow's tag: the enclosing name scopes, then ``family/name``."""
    scopes = get_default_graph()._scopes
    return "/".join(scopes + ([family] if family else []) + [name])


def scalar(name, tensor, collections=None, family=None):
    """A summary op logging the scalar ``tensor`` under tag ``scope/name``."""
    tag = _tag(name, family)

    def encode(a):
        a = np.asarray(a)
        if a.size != 1:
            raise ValueError(f"summary.scalar {tag!r}: needs one number, got shape {a.shape}")
        return pb.message(1, pb.string(1, tag), pb.float32(2, float(a.reshape(-1)[0])))

    from ...graph.build import as_value
    return _add("summary", encode, [as_value(tensor)], name, collections)


def histogram(name, values, collections=None, family=None):
    """A summary op logging the distribution of ``values`` (tag ``scope/name``)."""
    tag = _tag(name, family)

    def encode(a):
        return pb.message(1, pb.string(1, tag), pb.message(5, histogram_proto(a)))

    from ...graph.build import as_value
    return _add("summary", encode, [as_value(values)], name, collections)


def merge(inputs, collections=None, name="Merge/MergeSummary"):
    """One summary op holding all of ``inputs`` (a Summary's values concatenate)."""
    return _add("merge", lambda *parts: b"".join(parts), list(inputs), name, collections or [])


def merge_all(key=_KEY, scope=None, name=None):
    """Merge every summary op of the default graph (None when there is none)."""
    items = get_default_graph().get_collection(key)
    if not items:
        return None
    return merge(items, name=name or "Merge/MergeSummary")


class FileWriter:
    """Event file in ``logdir``; ``graph`` (e.g. ``sess.graph``) is written at once."""

    def __init__(self, logdir, graph: Graph | None = None, max_queue=10, flush_secs=120,
                 filename_suffix=None, session=None):
        self._w = SummaryWriter(logdir, flush_secs=flush_secs,
                                filename_suffix=filename_suffix or "")
        self.logdir = self._w.log_dir
        if graph is not None:
            self.add_graph(graph)

    def add_graph(self, graph, global_step=None, graph_def=None):
        """Write the graph for TensorBoard's Graphs tab (name scopes become boxes)."""
        self._w.add_graph(graph_def if graph_def is not None else graph)

    def add_summary(self, summary, global_step=None):
        """Write what a summary op returned from ``sess.run``."""
        if isinstance(summary, Value):
            raise TypeError("add_summary takes the result of sess.run(summary_op), not the op")
        self._w.add_summary_proto(summary, step=global_step)

    def get_logdir(self):
        return self.logdir

    def flush(self):
        self._w.flush()

    def close(self):
        self._w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
