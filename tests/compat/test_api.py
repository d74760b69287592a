"""ember.compat.v1 beyond the listings: optimizers against NumPy, losses, reductions, errors,
Session fetch structures, scopes and seeds."""
import numpy as np
import pytest

import ember.compat.v1 as tf
from ember.graph import GraphRunError, GraphShapeError


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


# ---- optimizers: TF1's update rules written out in NumPy ------------------------------------

A = np.array([[3.0, 0.5], [0.5, 1.0]], np.float32)
B = np.array([1.0, -2.0], np.float32)
W0 = np.array([0.3, -0.7], np.float32)


def _quadratic(opt):
    w = tf.Variable(W0.copy())
    loss = tf.reduce_sum(w * tf.matmul(tf.constant(A), tf.reshape(w, [2, 1]))[:, 0]) * 0.5 \
        - tf.reduce_sum(w * B)
    step = opt.minimize(loss)
    out = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            sess.run(step)
            out.append(sess.run(w))
    return np.array(out)


def _grad(w):
    return A @ w - B  # d/dw (w^T A w / 2 - b^T w), A symmetric


def _numpy_run(update, state):
    w = W0.astype(np.float64)
    out = []
    for t in range(1, 6):
        w = update(w, _grad(w), state, t)
        out.append(w.copy())
    return np.array(out)


def test_gradient_descent():
    got = _quadratic(tf.train.GradientDescentOptimizer(0.1))
    want = _numpy_run(lambda w, g, s, t: w - 0.1 * g, {})
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum(nesterov):
    got = _quadratic(tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=nesterov))

    def upd(w, g, s, t):
        s["a"] = 0.9 * s.get("a", 0) + g
        return w - 0.1 * ((g + 0.9 * s["a"]) if nesterov else s["a"])
    np.testing.assert_allclose(got, _numpy_run(upd, {}), rtol=1e-5)


def test_adam():
    got = _quadratic(tf.train.AdamOptimizer(0.05))

    def upd(w, g, s, t):
        s["m"] = 0.9 * s.get("m", 0) + 0.1 * g
        s["v"] = 0.999 * s.get("v", 0) + 0.001 * g * g
        lr_t = 0.05 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        return w - lr_t * s["m"] / (np.sqrt(s["v"]) + 1e-8)
    np.testing.assert_allclose(got, _numpy_run(upd, {}), rtol=1e-4)


def test_rmsprop_with_momentum():
    got = _quadratic(tf.train.RMSPropOptimizer(0.01, decay=0.9, momentum=0.5))

    def upd(w, g, s, t):
        s["ms"] = 0.9 * s.get("ms", 1.0) + 0.1 * g * g  # TF1 starts ms at 1
        s["mom"] = 0.5 * s.get("mom", 0) + 0.01 * g / np.sqrt(s["ms"] + 1e-10)
        return w - s["mom"]
    np.testing.assert_allclose(got, _numpy_run(upd, {}), rtol=1e-5)


def test_adagrad():
    got = _quadratic(tf.train.AdagradOptimizer(0.1))

    def upd(w, g, s, t):
        s["acc"] = s.get("acc", 0.1) + g * g
        return w - 0.1 * g / np.sqrt(s["acc"])
    np.testing.assert_allclose(got, _numpy_run(upd, {}), rtol=1e-5)


def test_compute_and_apply_gradients_with_global_step():
    w = tf.Variable(W0.copy())
    loss = tf.reduce_sum(w * w)
    opt = tf.train.GradientDescentOptimizer(0.25)
    gv = opt.compute_gradients(loss)
    assert [v for _, v in gv] == [w]
    step = tf.train.get_or_create_global_step()
    train = opt.apply_gradients([(g * 2.0, v) for g, v in gv], global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        g_val = sess.run(gv[0][0])
        sess.run(train)
        np.testing.assert_allclose(g_val, 2 * W0)
        np.testing.assert_allclose(sess.run(w), W0 - 0.25 * 4 * W0, rtol=1e-6)
        assert sess.run(step) == 1


# ---- ops and losses against NumPy --------------------------------------------------------

def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_cross_entropies_reductions_and_accuracy():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((5, 4)).astype(np.float32)
    lab = rng.integers(0, 4, 5)
    onehot = np.eye(4, dtype=np.float32)[lab]
    logits = tf.placeholder(tf.float32, (None, 4))
    y = tf.placeholder(tf.float32, (None, 4))
    t = tf.placeholder(tf.int64, (None,))
    xent = tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits)
    sxent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=logits)
    mean_x = tf.losses.softmax_cross_entropy(y, logits)
    mean_s = tf.losses.sparse_softmax_cross_entropy(t, logits)
    correct = tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1))
    acc = tf.reduce_mean(tf.cast(correct, tf.float32))
    rmax = tf.reduce_max(logits, axis=1, keepdims=True)
    probs = tf.nn.softmax(logits)
    with tf.Session() as sess:
        out = sess.run({"x": xent, "s": sxent, "mx": mean_x, "ms": mean_s, "acc": acc,
                        "max": rmax, "p": probs}, {logits: z, y: onehot, t: lab})
    ref = -np.log(_softmax(z)[np.arange(5), lab])
    np.testing.assert_allclose(out["x"], ref, rtol=1e-5)
    np.testing.assert_allclose(out["s"], ref, rtol=1e-5)
    np.testing.assert_allclose(out["mx"], ref.mean(), rtol=1e-5)
    np.testing.assert_allclose(out["ms"], ref.mean(), rtol=1e-5)
    assert out["acc"] == pytest.approx(np.mean(z.argmax(1) == lab))
    np.testing.assert_allclose(out["max"], z.max(1, keepdims=True))
    np.testing.assert_allclose(out["p"], _softmax(z), rtol=1e-5)


def test_softmax_xent_gradient_is_softmax_minus_labels():
    z = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]], np.float32)
    lab = np.eye(3, dtype=np.float32)[[1, 2]]
    logits = tf.placeholder(tf.float32, (2, 3))
    loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab, logits=logits))
    g, = tf.gradients(loss, [logits])
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {logits: z}), _softmax(z) - lab, rtol=1e-5)


def test_activations_and_arithmetic():
    a = np.array([[-1.5, 0.0, 2.0]], np.float32)
    x = tf.placeholder(tf.float32, (1, 3))
    outs = [tf.nn.relu(x), tf.nn.sigmoid(x), tf.nn.tanh(x), tf.minimum(x, 0.5), 2 - x,
            x / 2, 3 * x ** 2, -x, tf.reduce_sum(x, keepdims=True), tf.reduce_mean(x, axis=0)]
    with tf.Session() as sess:
        got = sess.run(outs, {x: a})
    want = [np.maximum(a, 0), 1 / (1 + np.exp(-a)), np.tanh(a), np.minimum(a, 0.5), 2 - a,
            a / 2, 3 * a ** 2, -a, a.sum(keepdims=True), a.mean(0)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
        assert g.dtype == np.float32


# ---- sessions, fetches, feeds, errors -------------------------------------------------------

def test_run_fetch_structures_and_ops():
    a = tf.constant(2.0)
    b = tf.constant([1.0, 2.0])
    v = tf.Variable(tf.zeros((2,)))
    inc = v.assign_add(b)
    with tf.Session() as sess:
        assert sess.run(tf.global_variables_initializer()) is None
        assert sess.run(a) == 2.0
        r = sess.run({"a": a, "pair": (a, [b])})
        assert r["a"] == 2.0 and isinstance(r["pair"], tuple) and isinstance(r["pair"][1], list)
        np.testing.assert_array_equal(r["pair"][1][0], [1.0, 2.0])
        sess.run(inc)
        assert sess.run(tf.group(inc)) is None
        np.testing.assert_array_equal(sess.run(v), [2.0, 4.0])
        np.testing.assert_array_equal(sess.run(v.assign_sub([0.5, 0.5])), [1.5, 3.5])
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(a)


def test_variables_live_in_their_session():
    v = tf.Variable(1.0)
    up = v.assign(v * 3)
    init = tf.global_variables_initializer()
    s1, s2 = tf.Session(), tf.Session()
    s1.run(init)
    s2.run(init)
    s1.run(up)
    assert s1.run(v) == 3.0 and s2.run(v) == 1.0


def test_feed_errors_name_the_placeholder():
    x = tf.placeholder(tf.float32, (None, 3), name="images")
    y = x * 2
    with tf.Session() as sess:
        with pytest.raises(ValueError, match=r"'images'.*\(\?, 3\).*\(2, 4\)"):
            sess.run(y, {x: np.ones((2, 4))})
        with pytest.raises(TypeError, match="'images'.*<U1"):
            sess.run(y, {x: np.array([["a", "b", "c"]])})
        with pytest.raises(GraphRunError, match="placeholder 'images'.*not fed"):
            sess.run(y)
        np.testing.assert_array_equal(sess.run(y, {x: np.ones((5, 3), int)}), 2 * np.ones((5, 3)))


def test_uninitialized_variable_is_a_clear_error():
    v = tf.Variable(tf.ones((2,)), name="weights")
    with tf.Session() as sess:
        with pytest.raises(GraphRunError, match="'weights'.*global_variables_initializer"):
            sess.run(v * 2)


def test_shape_errors_at_construction_name_op_and_shapes():
    x = tf.placeholder(tf.float32, (None, 3))
    w = tf.Variable(tf.zeros((4, 5)))
    with pytest.raises(GraphShapeError, match=r"MatMul.*\(\?, 3\).*\(4, 5\)"):
        tf.matmul(x, w)
    with pytest.raises(GraphShapeError, match=r"Add.*\(\?, 3\) and \(4, 5\)"):
        x + w
    with pytest.raises(TypeError, match="float32.*float64"):
        x + tf.constant(np.ones(3))


def test_name_scopes_seeds_and_default_graph():
    with tf.name_scope("layer"):
        a = tf.constant(1.0, name="a")
        with tf.name_scope("inner"):
            b = a * 2
    with tf.name_scope("layer"):
        c = tf.constant(1.0, name="a")
    assert a.name == "layer/a:0" and b.op.name == "layer/inner/Mul" and c.name == "layer_1/a:0"
    g = tf.get_default_graph()
    assert g.get_tensor_by_name("layer/a:0") is a

    def draw():
        tf.reset_default_graph()
        tf.set_random_seed(42)
        r = tf.random_normal((3,))
        u = tf.random_uniform((2,), minval=-1, maxval=1)
        t = tf.truncated_normal((1000,), stddev=2.0)
        with tf.Session() as s:
            return s.run([r, u, t])
    r1, u1, t1 = draw()
    r2, u2, t2 = draw()
    np.testing.assert_array_equal(r1, r2)
    assert np.all(np.abs(u1) <= 1) and np.abs(t1).max() <= 4.0
    assert tf.get_default_graph() is not g


def test_random_ops_draw_anew_each_run():
    r = tf.random_normal((4,))
    with tf.Session() as sess:
        assert not np.array_equal(sess.run(r), sess.run(r))
