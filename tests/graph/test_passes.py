"""Each graph pass on its own: what it changes in the program, and that results stay right.
Every test compares against the same graph with the pass switched off, so it fails when the
pass is disabled or does the wrong thing."""
import numpy as np
import pytest

import ember.compat.v1 as tf
import ember.graph as eg
from ember import ops
from ember.graph.passes import ALL
from ember.graph.passes.fusion import BLOCK, UFUNCS


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _program(fetches, feeds=(), passes=ALL):
    return tf.Session(passes=passes).executable(fetches, feeds)


def _types(exe):
    return [n.type for n in exe.program.nodes]


def _fn_nodes(exe, name):
    return [n for n in exe.program.nodes if n.kind == "fn" and n.op.__name__ == name]


# ---- dead-code elimination ----------------------------------------------------------------

def test_only_what_a_fetch_needs_runs():
    x = tf.placeholder(tf.float32, (3,))
    v = tf.Variable(tf.zeros((3,)))
    loss = tf.reduce_sum(x * v)
    upd = v.assign(v + tf.exp(x))  # not fetched: must not run
    unrelated = tf.sqrt(x) * 7.0
    exe = _program([loss], [x], passes=())
    kinds = [n.kind for n in exe.program.nodes]
    assert "assign" not in kinds
    assert not _fn_nodes(exe, "Exp") and not _fn_nodes(exe, "Sqrt")
    assert sorted(n.name for n in exe.program.nodes) == sorted(
        [x.node.name, v.node.name, loss.node.inputs[0].node.name, loss.node.name])
    # fetching the group-less update runs it
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        s.run(loss, {x: np.ones(3)})
        np.testing.assert_array_equal(s.run(v), 0)
        s.run(upd, {x: np.zeros(3)})
        np.testing.assert_array_equal(s.run(v), 1)
    del unrelated


def test_feeding_an_intermediate_cuts_off_what_computes_it():
    x = tf.placeholder(tf.float32, (2,))
    h = tf.exp(x)
    y = h * 2.0
    exe = _program([y], [h], passes=())
    assert not _fn_nodes(exe, "Exp") and "Placeholder" in _types(exe)
    with tf.Session() as s:  # x is not needed when h is fed
        np.testing.assert_array_equal(s.run(y, {h: [1.0, 2.0]}), [2.0, 4.0])


# ---- constant folding ----------------------------------------------------------------------

def test_constant_folding():
    x = tf.placeholder(tf.float32, (2,))
    k = tf.constant(3.0) * tf.constant(2.0) + 1.0
    y = x * k
    on = _program([y], [x], passes=("fold",))
    off = _program([y], [x], passes=())
    assert on.program.stats["folded"] == 2
    assert len(_fn_nodes(on, "Mul")) == 1 and not _fn_nodes(on, "Add")
    assert len(_fn_nodes(off, "Mul")) == 2 and len(_fn_nodes(off, "Add")) == 1
    for exe in (on, off):
        np.testing.assert_allclose(exe.run([np.array([1.0, 2.0], np.float32)], eg.State())[0],
                                   [7.0, 14.0])


# ---- common subexpressions -------------------------------------------------------------------

def test_cse_merges_duplicate_work_including_backward_nodes():
    x = tf.placeholder(tf.float32, (4,))
    w = tf.Variable(tf.ones((4,)) * 0.5)
    loss = tf.reduce_sum(tf.tanh(x * w)) + tf.reduce_sum(tf.tanh(x * w))
    g1, = tf.gradients(loss, [w])
    g2, = tf.gradients(loss, [w])  # a second gradient call: identical backward nodes
    fetch = [loss, g1 + g2]
    on = _program(fetch, [x], passes=("cse",))
    off = _program(fetch, [x], passes=())
    assert len(_fn_nodes(on, "Tanh")) == 1 and len(_fn_nodes(off, "Tanh")) == 2
    grads_on = sum(n.kind == "grad" for n in on.program.nodes)
    grads_off = sum(n.kind == "grad" for n in off.program.nodes)
    assert 0 < grads_on <= grads_off // 2
    xv = np.array([0.1, -0.4, 1.0, 2.0], np.float32)
    for exe in (on, off):
        s = eg.State()
        s.values[w.node] = np.full(4, 0.5, np.float32)
        lv, gv = exe.run([xv], s)
        t = np.tanh(xv * 0.5)
        np.testing.assert_allclose(lv, 2 * t.sum(), rtol=1e-6)
        np.testing.assert_allclose(gv, 4 * (1 - t * t) * xv, rtol=1e-5)


# ---- elementwise fusion ----------------------------------------------------------------------

@pytest.mark.parametrize("op", sorted(UFUNCS, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_fusion_table_matches_the_primitives_forward(op):
    rng = np.random.default_rng(0)
    n_in = 2 if op in (ops.Add, ops.Sub, ops.Mul, ops.Div, ops.Pow, ops.Maximum,
                       ops.Minimum) else 1
    args = [np.abs(rng.standard_normal((3, 5))).astype(np.float32) + 0.1 for _ in range(n_in)]
    if op is not ops.Log and op is not ops.Sqrt and op is not ops.Pow:
        args[0] -= 0.6
    ctx = op.__new__(op)
    want = op.forward(ctx, *args)
    out = np.empty_like(args[0])
    UFUNCS[op](out, *args)
    np.testing.assert_allclose(out, want, rtol=1e-6)


def _chain_graph(shape):
    x = tf.placeholder(tf.float32, shape)
    b = tf.placeholder(tf.float32, shape[-1:])
    c = tf.placeholder(tf.float32, shape[:1] + (1,))
    y = tf.tanh((x * 2.0 + b) - c) * 3.0
    return x, b, c, y


@pytest.mark.parametrize("rows", [8, 4 * BLOCK // 300 + 3])  # one block, and several blocks
def test_fusion_turns_an_elementwise_chain_into_one_kernel(rows):
    x, b, c, y = _chain_graph((rows, 300))
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((rows, 300)).astype(np.float32)
    bv = rng.standard_normal(300).astype(np.float32)
    cv = rng.standard_normal((rows, 1)).astype(np.float32)
    on = _program([y], [x, b, c], passes=("fusion",))
    off = _program([y], [x, b, c], passes=())
    kernels = [n for n in on.program.nodes if n.kind == "kernel"]
    assert len(kernels) == 1 and kernels[0].attrs["ops"] == ["Mul", "Add", "Sub", "Tanh", "Mul"]
    assert not any(n.kind == "kernel" for n in off.program.nodes)
    want = np.tanh((xv * 2 + bv) - cv) * 3
    for exe in (on, off):
        np.testing.assert_allclose(exe.run([xv, bv, cv], eg.State())[0], want, rtol=1e-5,
                                   atol=1e-6)


def test_fusion_leaves_nodes_whose_context_backward_needs():
    x = tf.placeholder(tf.float32, (4, 4))
    loss = tf.reduce_sum(tf.tanh(x * 2.0) * 3.0)
    g, = tf.gradients(loss, [x])
    exe = _program([loss, g], [x], passes=("fusion",))
    assert not any(n.kind == "kernel" for n in exe.program.nodes)
    xv = np.full((4, 4), 0.1, np.float32)
    np.testing.assert_allclose(exe.run([xv], eg.State())[1],
                               3 * 2 * (1 - np.tanh(0.2) ** 2) * np.ones((4, 4)), rtol=1e-5)


# ---- memory plan -------------------------------------------------------------------------------

def test_memory_plan_reuses_dying_buffers_in_place():
    x = tf.placeholder(tf.float32, (50, 40))
    a = x + 1.0
    b = a * 2.0
    c = b - 3.0
    xv = np.ones((50, 40), np.float32)
    on = _program([c], [x], passes=("memory",))
    off = _program([c], [x], passes=())
    r1 = on.run([xv], eg.State())[0]
    assert on.last_allocated == 1  # a's buffer is reused in place by b, then by c
    r2 = on.run([xv * 2], eg.State())[0]
    np.testing.assert_allclose(r1, 1.0)  # a fetched result is never handed back to the pool
    np.testing.assert_allclose(r2, 3.0)
    assert not np.shares_memory(r1, r2)
    np.testing.assert_allclose(off.run([xv], eg.State())[0], 1.0)
    assert not any(n.attrs.get("pooled") for n in off.program.nodes)


def test_memory_plan_keeps_buffers_other_nodes_still_read():
    x = tf.placeholder(tf.float32, (3, 3))
    a = x + 1.0                    # read by a kernel (b) and by MatMul: must not be reused
    b = a * 2.0
    m = tf.matmul(a, tf.constant(np.eye(3, dtype=np.float32)))
    out = b + m
    xv = np.arange(9, dtype=np.float32).reshape(3, 3)
    got = _program([out], [x], passes=("memory",)).run([xv], eg.State())[0]
    np.testing.assert_allclose(got, 3 * (xv + 1))


def _training_graph(opt):
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, (16, 20))
    y = tf.placeholder(tf.float32, (16, 5))
    h = tf.layers.dense(x, 12, activation=tf.nn.relu)
    loss = tf.losses.mean_squared_error(y, tf.layers.dense(h, 5))
    return x, y, loss, opt.minimize(loss)


@pytest.mark.parametrize("make", [lambda: tf.train.AdamOptimizer(0.01),
                                  lambda: tf.train.MomentumOptimizer(0.05, 0.9)],
                         ids=["adam", "momentum"])
def test_all_passes_give_the_same_training_as_none(make):
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((16, 20))
    yv = rng.standard_normal((16, 5))
    runs = {}
    for passes in (ALL, ()):
        tf.reset_default_graph()
        x, y, loss, step = _training_graph(make())
        with tf.Session(passes=passes) as s:
            s.run(tf.global_variables_initializer())
            runs[passes] = [s.run([loss, step], {x: xv, y: yv})[0]]
            exe = s._cache[((loss, step), (x, y))]
            first = exe.last_allocated
            runs[passes] += [s.run([loss, step], {x: xv, y: yv})[0] for _ in range(5)]
            if passes:
                kernels = [n for n in exe.program.nodes if n.kind == "kernel"]
                assert any(len(n.attrs["ops"]) >= 2 for n in kernels)  # the updates fused
                # steady state: each update kernel writes into the storage its variable retired
                # on the previous step; only the gradient sum (read by a backward rule) allocates
                assert first >= 8 and exe.last_allocated <= 1
    np.testing.assert_allclose(runs[ALL], runs[()], rtol=1e-5)
    assert runs[()][-1] < runs[()][0]


def test_fusion_with_an_unknown_batch_dim_and_a_runtime_broadcast():
    x = tf.placeholder(tf.float32, (None, 4))
    z = tf.placeholder(tf.float32, (None, 4))  # fed with batch 1: broadcasts at run time
    y = tf.exp(x * 0.5) + z * 2.0 - 1.0
    exe = _program([y], [x, z], passes=("fusion",))
    assert [n.kind for n in exe.program.nodes].count("kernel") == 1
    xv = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    zv = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    np.testing.assert_allclose(exe.run([xv, zv], eg.State())[0], np.exp(xv * 0.5) + zv * 2 - 1,
                               rtol=1e-6)
