"""The lecture's TensorFlow 1 listings (shared/seeds/000_*, 001_*), with only the import changed
to ``import ember.compat.v1 as tf``, checked against the same computation written in NumPy."""
import numpy as np
import pytest

import ember.compat.v1 as tf

N, D, H = 64, 1000, 100


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _np_step(x, y, w1, w2):
    """Loss and gradients of the two-layer ReLU net with sum-of-squares loss, by hand."""
    hpre = x @ w1
    h = np.maximum(hpre, 0)
    diff = h @ w2 - y
    loss = np.mean(np.sum(diff ** 2, axis=1))
    g_pred = 2 * diff / x.shape[0]
    g_w2 = h.T @ g_pred
    g_h = g_pred @ w2.T
    g_w1 = x.T @ (g_h * (hpre > 0))
    return loss, g_w1, g_w2


def test_basic_graph_gradients_listing():
    np.random.seed(0)
    N, D = 3, 4
    x = tf.placeholder(tf.float32)
    y = tf.placeholder(tf.float32)
    z = tf.placeholder(tf.float32)
    a = x * y
    b = a + z
    c = tf.reduce_sum(b)
    grad_x, grad_y, grad_z = tf.gradients(c, [x, y, z])
    with tf.Session() as sess:
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D), z: np.random.randn(N, D)}
        out = sess.run([c, grad_x, grad_y, grad_z], feed_dict=values)
        c_val, grad_x_val, grad_y_val, grad_z_val = out
    xv, yv, zv = (values[k].astype(np.float32) for k in (x, y, z))
    np.testing.assert_allclose(c_val, np.sum(xv * yv + zv), rtol=1e-5)
    np.testing.assert_allclose(grad_x_val, yv, rtol=1e-6)
    np.testing.assert_allclose(grad_y_val, xv, rtol=1e-6)
    np.testing.assert_allclose(grad_z_val, np.ones((N, D)))


def test_placeholder_weights_gradients_and_manual_training_listing():
    np.random.seed(0)
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.placeholder(tf.float32, shape=(D, H))
    w2 = tf.placeholder(tf.float32, shape=(H, D))
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff ** 2, axis=1))
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
    with tf.Session() as sess:
        values = {x: np.random.randn(N, D), w1: np.random.randn(D, H),
                  w2: np.random.randn(H, D), y: np.random.randn(N, D)}
        ref = {k: v.astype(np.float32).astype(np.float64) for k, v in values.items()}
        learning_rate = 1e-5
        losses, ref_losses = [], []
        for t in range(50):
            out = sess.run([loss, grad_w1, grad_w2], feed_dict=values)
            loss_val, grad_w1_val, grad_w2_val = out
            l_ref, g1, g2 = _np_step(ref[x], ref[y], ref[w1], ref[w2])
            if t == 0:
                np.testing.assert_allclose(grad_w1_val, g1, rtol=2e-3, atol=1e-1)
                np.testing.assert_allclose(grad_w2_val, g2, rtol=2e-3, atol=1e-1)
            values[w1] -= learning_rate * grad_w1_val
            values[w2] -= learning_rate * grad_w2_val
            ref[w1] -= learning_rate * g1
            ref[w2] -= learning_rate * g2
            losses.append(loss_val)
            ref_losses.append(l_ref)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-3)
    assert losses[-1] < 0.2 * losses[0]


def _variable_graph(with_group):
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.Variable(tf.random_normal((D, H)))
    w2 = tf.Variable(tf.random_normal((H, D)))
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff ** 2, axis=1))
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
    learning_rate = 1e-5
    new_w1 = w1.assign(w1 - learning_rate * grad_w1)
    new_w2 = w2.assign(w2 - learning_rate * grad_w2)
    updates = tf.group(new_w1, new_w2) if with_group else None
    return x, y, w1, w2, loss, updates


def test_assign_without_group_is_not_executed_listing():
    np.random.seed(0)
    x, y, w1, w2, loss, _ = _variable_graph(with_group=False)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D)}
        w1_before = sess.run(w1)
        losses = []
        for t in range(50):
            loss_val, = sess.run([loss], feed_dict=values)
            losses.append(loss_val)
        # "Problem: loss not going down! Assign calls not actually being executed!"
        assert len(set(np.asarray(losses).tolist())) == 1
        np.testing.assert_array_equal(sess.run(w1), w1_before)


def test_assign_with_group_trains_like_numpy_listing():
    np.random.seed(0)
    x, y, w1, w2, loss, updates = _variable_graph(with_group=True)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D)}
        rw1, rw2 = (a.astype(np.float64) for a in sess.run([w1, w2]))
        rx, ry = (values[k].astype(np.float32).astype(np.float64) for k in (x, y))
        losses, ref = [], []
        for t in range(50):
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
            l_ref, g1, g2 = _np_step(rx, ry, rw1, rw2)
            rw1 -= 1e-5 * g1
            rw2 -= 1e-5 * g2
            ref.append(l_ref)
        np.testing.assert_allclose(sess.run(w2), rw2, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(losses, ref, rtol=1e-3)
    assert losses[-1] < 0.2 * losses[0]


def test_optimizer_minimize_listing():
    np.random.seed(0)
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.Variable(tf.random_normal((D, H)))
    w2 = tf.Variable(tf.random_normal((H, D)))
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff * diff, axis=1))
    optimizer = tf.train.GradientDescentOptimizer(1e-5)
    updates = optimizer.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D)}
        rw1, rw2 = (a.astype(np.float64) for a in sess.run([w1, w2]))
        rx, ry = (values[k].astype(np.float32).astype(np.float64) for k in (x, y))
        losses, ref = [], []
        for t in range(50):
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
            l_ref, g1, g2 = _np_step(rx, ry, rw1, rw2)
            rw1 -= 1e-5 * g1
            rw2 -= 1e-5 * g2
            ref.append(l_ref)
    np.testing.assert_allclose(losses, ref, rtol=1e-3)


def test_predefined_loss_listing():
    np.random.seed(0)
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.Variable(tf.random_normal((D, H)))
    w2 = tf.Variable(tf.random_normal((H, D)))
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    loss = tf.losses.mean_squared_error(y_pred, y)
    optimizer = tf.train.GradientDescentOptimizer(1e-3)
    updates = optimizer.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D)}
        rw1, rw2 = (a.astype(np.float64) for a in sess.run([w1, w2]))
        rx, ry = (values[k].astype(np.float32).astype(np.float64) for k in (x, y))
        losses, ref = [], []
        for t in range(50):
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
            # MSE = mean over all N*D elements = (the listing's loss) / D
            l_ref, g1, g2 = _np_step(rx, ry, rw1, rw2)
            rw1 -= 1e-3 * g1 / D
            rw2 -= 1e-3 * g2 / D
            ref.append(l_ref / D)
    np.testing.assert_allclose(losses, ref, rtol=1e-3)
    assert losses[-1] < losses[0]


def _train_50(x, y, loss, updates):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D)}
        losses = []
        for t in range(50):
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
    return losses


def test_layers_dense_with_xavier_listing():
    np.random.seed(0)
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    init = tf.contrib.layers.xavier_initializer()
    h = tf.layers.dense(inputs=x, units=H, activation=tf.nn.relu, kernel_initializer=init)
    y_pred = tf.layers.dense(inputs=h, units=D, kernel_initializer=init)
    loss = tf.losses.mean_squared_error(y_pred, y)
    optimizer = tf.train.GradientDescentOptimizer(1e-0)
    updates = optimizer.minimize(loss)
    names = [v.node.name for v in tf.trainable_variables()]
    assert names == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    losses = _train_50(x, y, loss, updates)
    assert losses[-1] < 0.8 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))


def test_xavier_initializer_statistics():
    tf.set_random_seed(1)
    k = tf.Variable(tf.contrib.layers.xavier_initializer()((D, H)))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = sess.run(k)
    limit = np.sqrt(6.0 / (D + H))
    assert w.dtype == np.float32 and np.abs(w).max() <= limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.02 * limit


def test_keras_wrapper_listing_matches_numpy():
    np.random.seed(0)
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Dense(H, input_shape=(D,), activation=tf.nn.relu))
    model.add(tf.keras.layers.Dense(D))
    y_pred = model(x)
    loss = tf.losses.mean_squared_error(y_pred, y)
    optimizer = tf.train.GradientDescentOptimizer(1e-0)
    updates = optimizer.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D)}
        k1, b1, k2, b2 = (a.astype(np.float64) for a in sess.run(model.variables))
        rx, ry = (values[k].astype(np.float32).astype(np.float64) for k in (x, y))
        assert np.all(b1 == 0) and np.abs(k1).max() <= np.sqrt(6 / (D + H))
        losses, ref = [], []
        for t in range(50):
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
            hp = rx @ k1 + b1
            hh = np.maximum(hp, 0)
            d = hh @ k2 + b2 - ry
            ref.append(np.mean(d * d))
            gp = 2 * d / d.size
            gk2, gb2 = hh.T @ gp, gp.sum(0)
            gh = (gp @ k2.T) * (hp > 0)
            gk1, gb1 = rx.T @ gh, gh.sum(0)
            k1 -= gk1
            b1 -= gb1
            k2 -= gk2
            b2 -= gb2
    np.testing.assert_allclose(losses, ref, rtol=1e-3)
    assert losses[-1] < 0.8 * losses[0]


def test_cpu_device_listing():
    np.random.seed(0)
    N, D = 300, 400  # the listing's 3000 x 4000, scaled down for the test suite
    with tf.device('/cpu:0'):
        x = tf.placeholder(tf.float32)
        y = tf.placeholder(tf.float32)
        z = tf.placeholder(tf.float32)
        a = x * y
        b = a + z
        c = tf.reduce_sum(b)
    grad_x, grad_y, grad_z = tf.gradients(c, [x, y, z])
    with tf.Session() as sess:
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D), z: np.random.randn(N, D)}
        out = sess.run([c, grad_x, grad_y, grad_z], feed_dict=values)
        c_val, grad_x_val, grad_y_val, grad_z_val = out
    xv, yv, zv = (values[k].astype(np.float32) for k in (x, y, z))
    np.testing.assert_allclose(c_val, np.sum(xv.astype(np.float64) * yv + zv), rtol=1e-4)
    np.testing.assert_allclose(grad_y_val, xv)
