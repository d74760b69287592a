"""tf.control_dependencies with TensorFlow 1's semantics: ops created inside run after the
given ops; ``tf.identity`` inside is a new op (so it waits), a plain ``y = x`` is not."""
import numpy as np
import pytest

import ember.compat.v1 as tf


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def test_the_classic_listing_assign_then_read():
    x = tf.Variable(0.0)
    x_plus_1 = tf.assign_add(x, 1)
    with tf.control_dependencies([x_plus_1]):
        y = tf.identity(x)      # a new op: runs after the assign, reads the new value
        z = x                   # no new op: the variable itself, no dependency
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        init.run()
        ys = [float(y.eval()) for _ in range(5)]
        zs = [float(z.eval()) for _ in range(3)]
    assert ys == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert zs == [5.0, 5.0, 5.0]  # reading x alone never runs the assign


def test_ops_inside_run_after_their_dependencies_and_only_then():
    w = tf.Variable(np.array([1.0, 2.0], np.float32))
    update = w.assign(w * 3.0)
    with tf.control_dependencies([update]):
        total = tf.reduce_sum(w) + 0.0   # reads w after the update
    outside = tf.reduce_sum(w) + 0.0     # the same expression, no dependency: not merged by CSE
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(outside) == pytest.approx(3.0)
        assert sess.run(total) == pytest.approx(9.0)
        assert sess.run(outside) == pytest.approx(9.0)
        assert sess.run(total) == pytest.approx(27.0)


def test_nesting_none_and_gradients_through_identity():
    a = tf.Variable(1.0)
    b = tf.Variable(10.0)
    inc_a, inc_b = tf.assign_add(a, 1.0), tf.assign_add(b, 1.0)
    with tf.control_dependencies([inc_a]):
        with tf.control_dependencies([inc_b]):
            both = tf.identity(a) + tf.identity(b)  # after both
        with tf.control_dependencies(None):
            free = tf.identity(a)                   # cleared: no dependency
    x = tf.placeholder(tf.float32, [3])
    g, = tf.gradients(tf.reduce_sum(tf.identity(x) ** 2), [x])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(free) == pytest.approx(1.0)
        assert sess.run(both) == pytest.approx(13.0)
        assert sess.run(free) == pytest.approx(2.0)
        np.testing.assert_allclose(sess.run(g, {x: [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0])
    with pytest.raises(TypeError, match="control_dependencies"):
        with tf.control_dependencies([3.0]):
            pass
