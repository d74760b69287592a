"""Review of the backward walk against PyTorch: hooks that return or edit a gradient, retained
non-leaf gradients, grad mode during backward, autograd.grad's side effects and dtypes, and a
jitted call under retain_graph. Each case asserts the values PyTorch gives."""
import numpy as np
import pytest

import ember
from ember.autograd import grad


def _t(values, dtype=np.float64):
    return ember.tensor(np.array(values, dtype), requires_grad=True)


def test_a_leaf_hooks_returned_array_is_copied_into_grad():
    held = np.zeros(3)
    x = _t([1.0, 2.0, 3.0])
    x.register_hook(lambda g: ember.Tensor(held))
    (x * 2).sum().backward()
    assert not np.shares_memory(x.grad.data, held)  # PyTorch clones it too
    x.grad.data += 1
    assert np.array_equal(held, np.zeros(3))


def test_an_in_place_edit_in_a_non_leaf_hook_reaches_only_that_tensor():
    a, b = _t([1.0, 2.0]), _t([3.0, 4.0])
    y = b * 2

    def hook(g):
        g.data += 100  # in place: y's gradient, not its sibling a's (Add hands both the same)

    y.register_hook(hook)
    ((a + y) * ember.tensor(np.ones(2))).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [202.0, 202.0])


def test_an_in_place_edit_in_a_leaf_hook_reaches_only_that_leaf():
    a, b = _t([1.0, 2.0]), _t([3.0, 4.0])
    user = np.ones(2)

    def hook(g):
        g.data *= 10

    a.register_hook(hook)
    (a + b).backward(user)
    np.testing.assert_array_equal(a.grad.data, [10.0, 10.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(user, [1.0, 1.0])  # the caller's gradient is untouched


def test_retain_grad_twice_keeps_one_gradient_and_sees_later_hooks():
    x = _t([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    y.retain_grad()  # idempotent, as PyTorch
    y.register_hook(lambda g: g * 10)  # PyTorch: the retained gradient is the hooked one
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.data, [10.0, 10.0])
    np.testing.assert_array_equal(x.grad.data, [30.0, 30.0])
    assert y.retains_grad and not x.retains_grad


def test_backward_runs_without_grad_mode():
    w = _t([1.0, 2.0])
    seen = []

    def step(p):  # optimizer-in-backward: an in-place update from the post-accumulate hook
        seen.append(ember.is_grad_enabled())
        p.add_(p.grad, alpha=-0.5)

    w.register_post_accumulate_grad_hook(step)
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.data, [0.0, 0.0])  # w - 0.5 * 2w
    assert seen == [False] and ember.is_grad_enabled()


def test_grad_runs_no_hooks_of_leaves_it_does_not_return():
    a, b = _t([1.0, 1.0]), _t([3.0, 3.0])
    calls = []
    b.register_hook(lambda g: calls.append("b"))
    (ga,) = grad((a * b).sum(), a)
    np.testing.assert_array_equal(ga.data, [3.0, 3.0])
    assert calls == [] and b.grad is None


def test_gradients_have_the_dtype_of_their_tensor():
    # float32 tensors whose consumer promoted to float64: PyTorch casts each gradient to the
    # dtype of the tensor it belongs to (captured, root and hooks alike)
    a = _t([1.0, 1.0], np.float32)
    h = a * 2
    z = h * ember.tensor(np.ones(2))  # float64
    assert z.dtype == np.float64
    (gh,) = grad(z.sum(), h)
    assert gh.dtype == np.float32
    seen = []
    h = a * 2
    h.register_hook(lambda g: seen.append(g.dtype))
    h.backward(ember.tensor(np.ones(2)))  # a float64 gradient for a float32 root
    assert seen == [np.float32] and a.grad.dtype == np.float32


def test_retain_graph_through_a_jitted_call_says_what_is_wrong():
    from ember import nn
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    jf = ember.jit(m.forward)
    x = ember.randn(2, 4)
    for _ in range(3):  # compiled with its gradient graph after the first calls
        y = jf(x)
    assert type(y._ctx).__name__ == "Output"
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="jitted call"):
        loss.backward()


def test_grad_walks_only_the_nodes_that_lead_to_its_inputs():
    a, b = _t([1.0, 2.0]), _t([3.0, 4.0])
    calls = []
    hb = b * 2                      # not on a path to a: PyTorch does not walk it
    hb.register_hook(lambda g: calls.append("hb"))
    hb.retain_grad()
    ha = a * 3
    ha.register_hook(lambda g: calls.append("ha"))
    (ga,) = grad((ha * hb).sum(), a)
    np.testing.assert_array_equal(ga.data, [18.0, 24.0])  # 3 * hb
    assert calls == ["ha"] and hb.grad is None
    x = _t([1.0, 2.0])
    h = x * x
    k = h.exp()
    k.register_hook(lambda g: calls.append("k"))
    (gh,) = grad((k + h).sum(), h)  # below the input h nothing is walked
    np.testing.assert_allclose(gh.data, np.exp([1.0, 4.0]) + 1)
    assert calls == ["ha", "k"]
    (gx,) = grad((x * x).sum(), x)   # and the graph below h was not freed: h's node is intact
    assert h._ctx.parents is not None


def test_grad_twice_without_retain_graph_names_the_freed_graph():
    x = _t([1.0, 2.0])
    y = (x * x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        grad(y, x)


def test_a_rule_gets_its_output_dtype_when_a_consumer_promoted():
    # PyTorch casts a node's gradient to the dtype of its output, so a float32 network under
    # a float64 loss runs its backward in float32 (not in float64 down to the leaves)
    from ember.ops.function import Function
    seen = []

    class Twice(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            seen.append(g.dtype)
            return g * 2

    a = _t([1.0, 2.0], np.float32)
    h = Twice.apply(a)
    loss = (h * ember.tensor(np.array([0.1, 0.3]))).sum()  # float64
    assert h.dtype == np.float32 and loss.dtype == np.float64
    loss.backward()
    assert seen == [np.float32]
    np.testing.assert_array_equal(a.grad.data, np.array([0.1, 0.3], np.float32) * 2)
    assert a.grad.dtype == np.float32
