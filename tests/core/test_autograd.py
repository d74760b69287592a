"""Autograd semantics: worked examples from the lectures, accumulation, retain_graph, no_grad,
hooks, grad(), in-place detection, freeing the graph, and the errors users see."""
import gc
import weakref

import numpy as np
import pytest

import ember
from ember.autograd import grad


def test_lecture_example_sum_times():
    # f(x, y, z) = (x + y) z at x=-2, y=5, z=-4
    x, y, z = (ember.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    f.backward()
    assert f.item() == -12
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4, -4, 3)


def test_lecture_example_sigmoid_neuron():
    w = ember.tensor([2.0, -3.0, -3.0], requires_grad=True)
    x = ember.tensor([-1.0, -2.0], requires_grad=True)
    f = 1 / (1 + ember.exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))
    f.backward()
    np.testing.assert_allclose(np.round(w.grad.data, 2), [-0.20, -0.39, 0.20], atol=1e-6)
    np.testing.assert_allclose(np.round(x.grad.data, 2), [0.39, -0.59], atol=1e-6)


def test_gradients_accumulate_and_reset():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [6, 6])
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2, 4])


def test_shared_pass_through_gradient_is_not_aliased():
    # add's backward hands the same array to both inputs; the leaves must own their grads.
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(10)
    np.testing.assert_array_equal(b.grad.data, [1, 1])


def test_backward_twice_needs_retain_graph():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4, 8])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_errors_say_what_to_do():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*shape \(2,\).*y.sum\(\).backward\(\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match="gradient has shape"):
        (x * 2).backward(ember.ones(3))
    (x * 2).backward(ember.tensor([1.0, 0.5]))
    np.testing.assert_array_equal(x.grad.data, [2, 1])


def test_shape_errors_name_both_shapes():
    a, b = ember.ones(2, 3), ember.ones(4, 5)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        a * ember.ones(4)


def test_no_grad_context_and_decorator():
    x = ember.tensor([1.0], requires_grad=True)
    with ember.no_grad():
        y = x * 2
        with ember.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @ember.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    assert ember.is_grad_enabled()


def test_manual_update_loop_like_the_lectures():
    ember.manual_seed(0)
    x = ember.randn(64, 3)
    true_w = ember.tensor([[1.0], [-2.0], [0.5]])
    y = x @ true_w
    w = ember.zeros(3, 1, requires_grad=True)
    for _ in range(200):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        with ember.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
    np.testing.assert_allclose(w.data, true_w.data, atol=1e-3)
    with ember.no_grad():
        w.add_(1.0)
        w.mul_(2.0)
        w.copy_(ember.ones(3, 1))
    np.testing.assert_array_equal(w.data, np.ones((3, 1)))


def test_inplace_on_leaf_requiring_grad_is_refused_outside_no_grad():
    w = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 1.0
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="requires grad"):
        w[0] = 5.0


def test_inplace_change_of_saved_tensor_is_detected():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    x = ember.tensor([3.0, 4.0])
    y = (w * x).sum()  # mul saves x
    x[0] = 100.0  # x needs no grad: allowed, but backward would read the new value
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    # through a view sharing memory, too
    w2 = ember.tensor([1.0, 2.0], requires_grad=True)
    x2 = ember.tensor([[3.0, 4.0]])
    xv = x2.reshape(2)
    y2 = (w2 * xv).sum()
    with ember.no_grad():
        x2.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y2.backward()
    # saved outputs (exp keeps its result) are checked as well
    a = ember.tensor([0.5], requires_grad=True)
    e = a.exp()
    with ember.no_grad():
        e.add_(1.0)
    with pytest.raises(RuntimeError, match="output"):
        e.sum().backward()


def test_augmented_assignment_on_graph_tensor_stays_correct():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([0.5, 0.5], requires_grad=True)
    h = x * 3
    h += b
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3, 3])
    np.testing.assert_array_equal(b.grad.data, [1, 1])


def test_detach_and_requires_grad_():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = ember.tensor([1.0]).requires_grad_()
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2]).requires_grad_()


def test_hooks_see_and_replace_gradients():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x * 2
    h.register_hook(lambda g: seen.append(g.data.copy()))
    x.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    np.testing.assert_array_equal(seen[0], [4, 8])
    np.testing.assert_array_equal(x.grad.data, [80, 160])


def test_retain_grad_on_non_leaf():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h ** 2).sum().backward()
    np.testing.assert_array_equal(h.grad.data, [4, 8])


def test_autograd_grad_leaves_dot_grad_alone():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = ember.tensor([3.0], requires_grad=True)
    out = (x * x).sum() * y
    gx, gy = grad(out, [x, y])
    np.testing.assert_array_equal(gx.data, [6, 12])
    np.testing.assert_array_equal(gy.data, [5])
    assert x.grad is None and y.grad is None
    z = ember.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        grad((x * 2).sum(), [z])
    assert grad((x * 2).sum(), [z], allow_unused=True) == (None,)
    # with respect to an intermediate tensor
    h = x * 3
    (gh,) = grad((h * h).sum(), [h])
    np.testing.assert_array_equal(gh.data, [6, 12])


def test_graph_is_freed_after_backward():
    x = ember.tensor(np.ones(1000), requires_grad=True)
    y = x.exp()
    saved = weakref.ref(y.grad_fn.out)
    s = y.sum()
    del y
    s.backward()
    gc.collect()
    assert saved() is None


def test_deep_graph_does_not_hit_recursion_limit():
    x = ember.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_repr_shows_values_and_grad_fn():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    assert "dtype=float64" in repr(ember.tensor([1.0], dtype=ember.float64))


def test_zero_dim_results_stay_arrays_so_inplace_works():
    t = ember.tensor(2.0) * 3
    t.add_(1)
    assert t.item() == 7.0
    base = ember.tensor([1.0, 2.0])
    w = base[0]
    w.mul_(5)
    assert w.item() == 5.0 and base.tolist() == [5.0, 2.0]  # a view, as in PyTorch
