"""tf.summary ops and FileWriter(logdir, sess.graph), read back with TensorBoard's own reader."""
import numpy as np
import pytest

import ember.compat.v1 as tf


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _accumulator(logdir):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    ea = ea_mod.EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0})
    ea.Reload()
    return ea


def test_scalar_histogram_merge_all_and_graph(tmp_path):
    x = tf.placeholder(tf.float32, shape=[None, 4], name="x")
    with tf.name_scope("fc1"):
        w = tf.Variable(tf.ones([4, 2]), name="W")
        act = tf.nn.relu(tf.matmul(x, w))
        tf.summary.histogram("weights", w)
    with tf.name_scope("xent"):
        loss = tf.reduce_mean(act)
    tf.summary.scalar("loss", loss)
    merged = tf.summary.merge_all()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        writer = tf.summary.FileWriter(str(tmp_path), sess.graph)
        for i in range(3):
            s = sess.run(merged, feed_dict={x: np.full((2, 4), i, np.float32)})
            writer.add_summary(s, i)
        writer.close()
    ea = _accumulator(tmp_path)
    vals = [e.value for e in ea.Scalars("loss")]
    np.testing.assert_allclose(vals, [0.0, 4.0, 8.0])
    assert [e.step for e in ea.Scalars("loss")] == [0, 1, 2]
    h = ea.Histograms("fc1/weights")[0].histogram_value  # tags carry the name scope
    assert h.num == 8 and h.min == 1.0 and h.max == 1.0
    graph = ea.Graph()
    names = {n.name: n for n in graph.node}
    assert names["x"].op == "Placeholder"
    assert names["fc1/W"].op == "VariableV2"
    assert names["fc1/MatMul"].op == "MatMul"
    assert list(names["fc1/MatMul"].input) == ["x", "fc1/W"]
    assert names["xent/Mean"].attr["_output_shapes"].list.shape[0].unknown_rank is False
    dims = [d.size for d in names["fc1/MatMul"].attr["_output_shapes"].list.shape[0].dim]
    assert dims == [-1, 2]


def test_merge_all_without_summaries_is_none():
    tf.constant(1.0)
    assert tf.summary.merge_all() is None
