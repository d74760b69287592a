"""The lecture's TensorBoard listing (conv/fc layers in name scopes, xent, train, accuracy,
summaries, FileWriter) and tf.nn.conv2d / max_pool against NumPy."""
import numpy as np
import pytest

import ember.compat.v1 as tf


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _np_conv_same(x, w):
    """NHWC x, (kh, kw, in, out) w, stride 1, SAME (odd kernels): direct sum."""
    kh, kw = w.shape[:2]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    n, h, wd, _ = x.shape
    out = np.zeros((n, h, wd, w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,co->nhwo", xp[:, i:i + h, j:j + wd], w[i, j])
    return out


def test_conv2d_and_max_pool_match_numpy():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    wv = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, (None, 6, 5, 3))
    conv = tf.nn.conv2d(x, tf.constant(wv), strides=[1, 1, 1, 1], padding="SAME")
    pool = tf.nn.max_pool(conv, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    assert conv.shape == (None, 6, 5, 4) and pool.shape == (None, 3, 3, 4)
    with tf.Session() as s:
        c, p = s.run([conv, pool], {x: xv})
    want = _np_conv_same(xv.astype(np.float64), wv.astype(np.float64))
    np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-4)
    padded = np.pad(want, ((0, 0), (0, 0), (0, 1), (0, 0)), constant_values=-np.inf)
    ref = padded.reshape(2, 3, 2, 3, 2, 4).max(axis=(2, 4))
    np.testing.assert_allclose(p, ref, rtol=1e-4, atol=1e-4)


def conv_layer(input, channels_in, channels_out, name="conv"):
    with tf.name_scope(name):
        w = tf.Variable(tf.zeros([5, 5, channels_in, channels_out]), name="W")
        b = tf.Variable(tf.zeros([channels_out]), name="B")
        conv = tf.nn.conv2d(input, w, strides=[1, 1, 1, 1], padding="SAME")
        act = tf.nn.relu(conv + b)
        tf.summary.histogram("weights", w)
        tf.summary.histogram("biases", b)
        tf.summary.histogram("activations", act)
        return tf.nn.max_pool(act, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


def fc_layer(input, channels_in, channels_out, name="fc"):
    with tf.name_scope(name):
        w = tf.Variable(tf.zeros([channels_in, channels_out]), name="W")
        b = tf.Variable(tf.zeros([channels_out]), name="B")
        return tf.nn.relu(tf.matmul(input, w) + b)


def test_tensorboard_mnist_listing(tmp_path):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    x = tf.placeholder(tf.float32, shape=[None, 784], name="x")
    x_image = tf.reshape(x, [-1, 28, 28, 1])
    y = tf.placeholder(tf.float32, shape=[None, 10], name="labels")
    conv1 = conv_layer(x_image, 1, 32, "conv1")
    conv2 = conv_layer(conv1, 32, 64, "conv2")
    flattened = tf.reshape(conv2, [-1, 7 * 7 * 64])
    fc1 = fc_layer(flattened, 7 * 7 * 64, 1024, "fc1")
    logits = fc_layer(fc1, 1024, 10, "fc2")
    with tf.name_scope("xent"):
        xent = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=y))
    with tf.name_scope("train"):
        train_step = tf.train.AdamOptimizer(1e-4).minimize(xent)
    with tf.name_scope("accuracy"):
        correct_prediction = tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
    tf.summary.scalar("cross_entropy", xent)
    tf.summary.scalar("accuracy", accuracy)
    merged_summary = tf.summary.merge_all()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    writer = tf.summary.FileWriter(str(tmp_path))
    writer.add_graph(sess.graph)
    rng = np.random.default_rng(0)
    images = rng.random((2, 784)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[[0, 3]]
    for i in range(1):
        s = sess.run(merged_summary, feed_dict={x: images, y: labels})
        writer.add_summary(s, i)
        sess.run(train_step, feed_dict={x: images, y: labels})
    writer.close()
    # all-zero weights and ReLU: logits 0 and every gradient 0 (relu'(0) = 0), so nothing
    # learns - the lecture's "what if all weights are zero" - exactly as in TensorFlow
    np.testing.assert_allclose(sess.run(xent, {x: images, y: labels}), np.log(10), rtol=1e-6)
    ea = ea_mod.EventAccumulator(str(tmp_path), size_guidance={"histograms": 0})
    ea.Reload()
    np.testing.assert_allclose(ea.Scalars("cross_entropy")[0].value, np.log(10), rtol=1e-5)
    assert ea.Scalars("accuracy")[0].value == pytest.approx(0.5)  # argmax 0 everywhere
    assert "conv1/weights" in ea.Tags()["histograms"]
    scopes = {n.name.split("/")[0] for n in ea.Graph().node}
    assert {"conv1", "conv2", "fc1", "fc2", "xent", "train", "accuracy"} <= scopes
