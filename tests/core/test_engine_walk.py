"""The backward walk: nodes newest first (creation order), each leaf accumulated once, right
after its last consumer, the same gradients as the depth-first order it replaced, a fallback
for tape nodes without a sequence number, and the in-place error naming the changed array."""
import numpy as np
import pytest

import ember
from ember.autograd import engine
from ember.ops.function import Function


def test_diamond_and_shared_leaf_gradients():
    rng = np.random.default_rng(0)
    w = ember.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = ember.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = x @ w              # w used three times, x twice, h feeds two branches
    out = ((h * h).sum() + (h @ w).relu().sum() + (x * 2).sum()) * w.sum()
    out.backward()
    import torch
    wt = torch.tensor(w.data, requires_grad=True)
    xt = torch.tensor(x.data, requires_grad=True)
    ht = xt @ wt
    ((ht * ht).sum() + (ht @ wt).relu().sum() + (xt * 2).sum()).mul(wt.sum()).backward()
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)


def test_leaf_accumulated_once_after_its_last_consumer():
    w = ember.tensor(np.ones(3), requires_grad=True)
    events = []
    h = w * 2
    h.register_hook(lambda g: events.append("h"))
    y = (h * w).sum()       # w's consumers: the first mul (older) and this one (newer)
    w.register_post_accumulate_grad_hook(lambda t: events.append(("w", t.grad.data.copy())))
    y.backward()
    assert events[0] == "h" and len(events) == 2  # w once, after h's consumer walked
    assert events[1][0] == "w" and np.array_equal(events[1][1], 4 * np.ones(3))


def test_nodes_walk_newest_first():
    a = ember.tensor(np.ones(2), requires_grad=True)
    seen = []
    b = a * 3
    c = a * 4
    d = b + c               # c is newer than b: its hook runs first
    b.register_hook(lambda g: seen.append("b"))
    c.register_hook(lambda g: seen.append("c"))
    d.sum().backward()
    assert seen == ["c", "b"]
    assert np.array_equal(a.grad.data, [7.0, 7.0])


class _Double(Function):
    saves_inputs = False

    @staticmethod
    def backward(ctx, g):
        return (2 * g,)


def test_nodes_without_a_sequence_number_use_the_depth_first_order():
    x = ember.tensor(np.ones(3), requires_grad=True)
    ctx = object.__new__(_Double)  # a tape node made by hand, as the jit's are: no .seq
    ctx.parents, ctx.needs, ctx.vchecks = (x * 3,), (True,), None
    t = ember.Tensor(np.full(3, 6.0))
    t.requires_grad, t._ctx = True, ctx
    (t * 1).sum().backward()
    assert np.array_equal(x.grad.data, np.full(3, 6.0))


def test_root_gradient_and_pass_through_are_copied_into_grad():
    w = ember.tensor(np.ones(4), requires_grad=True)
    v = ember.tensor(np.ones(4), requires_grad=True)
    root = np.full(4, 3.0)
    (w + v).backward(ember.tensor(root))
    assert w.grad.data is not root and v.grad.data is not w.grad.data
    w.grad.data += 1
    assert np.array_equal(v.grad.data, root) and np.array_equal(root, np.full(4, 3.0))
    u = ember.tensor(np.ones(2), requires_grad=True)
    g = np.array([1.0, 2.0])
    u.backward(g)           # a leaf root keeps a copy of the caller's array
    assert u.grad.data is not g and np.array_equal(u.grad.data, g)


def test_no_gradient_through_a_branch_still_releases_its_leaf():
    w = ember.tensor(np.ones(3), requires_grad=True)
    idx = (w * 0).argmax()  # no gradient flows through argmax
    y = (w * w).sum() + (w * 1)[idx]
    y.backward()
    assert np.array_equal(w.grad.data, [3.0, 2.0, 2.0])


@pytest.mark.parametrize("change, which", [("x", "input 0"), ("y", "input 1"),
                                           ("out", "its output")])
def test_in_place_change_names_the_array(change, which):
    x = ember.tensor(np.ones(3), requires_grad=True)
    y = ember.tensor(np.full(3, 2.0))
    xx = x * 1
    z = xx * y if change != "out" else xx.exp()
    target = {"x": xx, "y": y, "out": z}[change]
    with ember.no_grad():
        target.add_(1)
    with pytest.raises(RuntimeError, match=which + r" \(needed to compute gradients\)"):
        z.sum().backward()


def test_callbacks_nested_backwards_and_threads():
    import threading
    w = ember.tensor(np.ones(2), requires_grad=True)
    order = []

    def inner(t):
        order.append("hook")
        engine.queue_callback(lambda: order.append("cb"))

    h = w.register_post_accumulate_grad_hook(inner)
    (w * 2).sum().backward()
    assert order == ["hook", "cb"]
    h.remove()
    errors = []

    def other():
        try:
            engine.queue_callback(lambda: None)
        except RuntimeError as e:
            errors.append(str(e))

    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert errors and "no backward pass is running" in errors[0]
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        engine.queue_callback(lambda: None)
