"""Every compat.v1 name issue 11 lists exists; the ones no other test uses work here."""
import numpy as np
import pytest

import ember.compat.v1 as tf

LISTED = """placeholder Variable constant random_normal random_uniform truncated_normal zeros ones
float32 float64 int32 int64 matmul maximum minimum reduce_sum reduce_mean reduce_max reshape
argmax equal cast nn.relu nn.sigmoid nn.tanh nn.softmax nn.softmax_cross_entropy_with_logits_v2
nn.sparse_softmax_cross_entropy_with_logits losses.mean_squared_error
losses.softmax_cross_entropy losses.sparse_softmax_cross_entropy gradients group Session
global_variables_initializer train.GradientDescentOptimizer train.MomentumOptimizer
train.AdamOptimizer train.RMSPropOptimizer train.AdagradOptimizer layers.dense
contrib.layers.xavier_initializer keras.Sequential keras.layers.Dense summary.FileWriter
summary.scalar summary.histogram summary.merge_all Graph get_default_graph reset_default_graph
name_scope set_random_seed control_dependencies identity""".split()


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


@pytest.mark.parametrize("name", LISTED)
def test_listed_name_exists(name):
    obj = tf
    for part in name.split("."):
        obj = getattr(obj, part)
    assert obj is not None


def test_dtypes_and_the_power_operator():
    x = tf.placeholder(tf.int32, [3])
    y = tf.cast(x, tf.float64) ** 2
    z = 2.0 ** tf.cast(x, tf.float32)
    with tf.Session() as sess:
        a, b = sess.run([y, z], feed_dict={x: np.array([1, 2, 3])})
    assert a.dtype == np.float64 and b.dtype == np.float32
    np.testing.assert_allclose(a, [1.0, 4.0, 9.0])
    np.testing.assert_allclose(b, [2.0, 4.0, 8.0])
    assert x.dtype == np.int32


def test_variable_initializer_assign_sub_and_fetch_structures():
    v = tf.Variable(np.array([5.0, 7.0], np.float32))
    down = v.assign_sub([1.0, 2.0])
    sess = tf.Session()
    sess.run(v.initializer)             # one variable's own initializer
    got_tuple = sess.run((down, v))     # a tuple fetch gives a tuple
    got_dict = sess.run({"v": v})
    assert isinstance(got_tuple, tuple)
    np.testing.assert_allclose(got_tuple[0], [4.0, 5.0])
    np.testing.assert_allclose(got_dict["v"], [4.0, 5.0])
    sess.close()
    with pytest.raises(RuntimeError, match="closed"):
        sess.run(v)


def test_minimize_var_list_updates_only_the_listed_variables():
    a = tf.Variable(1.0)
    b = tf.Variable(1.0)
    loss = (a * b - 3.0) ** 2
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[a])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step)
        av, bv = sess.run([a, b])
    assert av == pytest.approx(1.0 - 0.1 * 2 * (1.0 - 3.0) * 1.0)  # d/da = 2(ab - 3) b
    assert bv == pytest.approx(1.0)


def test_graph_objects_as_default():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(2.0) * 3.0
        assert tf.get_default_graph() is g
    assert tf.get_default_graph() is not g
    with tf.Session(graph=g) as sess:
        assert sess.run(c) == pytest.approx(6.0)
