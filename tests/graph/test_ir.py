"""The graph IR: shape inference with unknown dims, errors at build time, gradients as graph
nodes (equal to eager autograd, since both run the same backward rules), printing, dot."""
import numpy as np
import pytest

import ember
import ember.graph as eg
from ember import ops
from ember.ops.nn_layers import Linear
from ember.ops.nn_loss import SoftmaxCrossEntropy


def test_shapes_with_unknown_batch_dim():
    g = eg.Graph()
    with g.as_default():
        x = eg.placeholder(np.float32, (None, 784))
        img = eg.apply(ops.Reshape, x, shape=(-1, 28, 28, 1))
        w = eg.constant(np.zeros((784, 10), np.float32))
        logits = x @ w
        s = eg.apply(ops.Sum, logits, axis=1, keepdims=True)
        b = logits + s
        unknown = eg.placeholder(np.float32)
        u = unknown * 2.0
    assert img.shape == (None, 28, 28, 1)
    assert logits.shape == (None, 10) and logits.dtype == np.float32
    assert s.shape == (None, 1) and b.shape == (None, 10)
    assert u.shape is None and u.dtype == np.float32
    with eg.Session(graph=g) as sess:
        assert sess.run(img, {x: np.zeros((3, 784))}).shape == (3, 28, 28, 1)


def test_broadcast_of_unknown_and_known_dims():
    g = eg.Graph()
    with g.as_default():
        a = eg.placeholder(np.float32, (None, 1))
        c = eg.constant(np.ones((1, 5), np.float32))
        assert (a + c).shape == (None, 5)
        with pytest.raises(eg.GraphShapeError, match=r"Mul: shapes \(\?, 3\) and \(4,\)"):
            eg.placeholder(np.float32, (None, 3)) * eg.constant(np.ones(4, np.float32))


def test_run_time_shape_error_names_the_node():
    g = eg.Graph()
    with g.as_default():
        a = eg.placeholder(np.float32, (None, 3))
        b = eg.placeholder(np.float32, (None, 3))
        c = a + b
    with pytest.raises(eg.GraphRunError, match=r"Add.*\(2, 3\) and \(4, 3\)"):
        eg.Session(graph=g).run(c, {a: np.ones((2, 3)), b: np.ones((4, 3))})


def test_graph_gradients_equal_eager_autograd():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((6, 3))
    wv, bv = rng.standard_normal((4, 3)), rng.standard_normal(4)
    yv = rng.integers(0, 4, 6)
    g = eg.Graph()
    with g.as_default():
        x = eg.placeholder(np.float64, (None, 3))
        y = eg.placeholder(np.int64, (None,))
        w, b = eg.constant(wv), eg.constant(bv)
        h = eg.apply(ops.Tanh, eg.apply(Linear, x, w, b))
        loss = eg.apply(SoftmaxCrossEntropy, h * h, y)
        gx, gw, gb = eg.gradients(loss, [x, w, b])
        combined = gw * 2.0 + 1.0  # gradients are ordinary tensors
    with eg.Session(graph=g) as sess:
        out = sess.run([loss, gx, gw, gb, combined], {x: xv, y: yv})
    xt = ember.tensor(xv, requires_grad=True)
    wt = ember.tensor(wv, requires_grad=True)
    bt = ember.tensor(bv, requires_grad=True)
    ht = ops.Tanh.apply(Linear.apply(xt, wt, bt))
    lt = SoftmaxCrossEntropy.apply(ht * ht, yv)
    lt.backward()
    np.testing.assert_allclose(out[0], lt.data, rtol=1e-12)
    for got, t in zip(out[1:4], (xt, wt, bt)):
        np.testing.assert_allclose(got, t.grad.data, rtol=1e-10)
    np.testing.assert_allclose(out[4], 2 * wt.grad.data + 1, rtol=1e-10)


def test_gradient_of_unconnected_is_none_and_of_shared_input_sums():
    g = eg.Graph()
    with g.as_default():
        x = eg.placeholder(np.float32, (3,))
        z = eg.placeholder(np.float32, (3,))
        y = eg.apply(ops.Sum, x * x + x)
        gx, gz = eg.gradients(y, [x, z])
    assert gz is None
    xv = np.array([1.0, -2.0, 0.5], np.float32)
    np.testing.assert_allclose(eg.Session(graph=g).run(gx, {x: xv}), 2 * xv + 1)


def test_str_and_dot():
    g = eg.Graph()
    with g.as_default():
        x = eg.placeholder(np.float32, (None, 2), name="x")
        with g.name_scope("layer"):
            y = eg.apply(ops.Relu, x * 3.0)
    text = str(g)
    assert "x = Placeholder() -> (?, 2) float32" in text
    assert "layer/Relu = Relu(layer/Mul:0) -> (?, 2) float32" in text
    dot = g.to_dot()
    assert dot.startswith("digraph") and 'label="layer"' in dot
    assert '"layer/Mul" -> "layer/Relu"' in dot and '"x" -> "layer/Mul"' in dot
    assert y.node.type == "Relu"
