"""Every primitive at its edges against PyTorch: zeros, +-inf, saturation, empty reductions,
ties, exact margins. Forward values and gradients must equal PyTorch's, NaN where PyTorch gives
NaN and finite where PyTorch is finite (a NaN gradient silently turns the weights into NaN).

Each case: name, fn(module, *tensors) with module ``ember`` or ``torch``, the input arrays
(floating arrays require a gradient unless listed in ``nograd``; integer arrays are targets).
"""
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import torch_or_skip

INF, NAN = np.inf, np.nan


def F(m):
    return m.nn.functional


def a64(*v):
    return np.array(v, np.float64)


def a32(*v):
    return np.array(v, np.float32)


def idx(*v):
    return np.array(v, np.int64)


def case(name, fn, inputs, nograd=(), warns=None):
    return pytest.param(fn, inputs, nograd, warns, id=name)


TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
CONST = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])

CASES = [
    # ---- elementwise: zeros and infinities -------------------------------------------------
    case("div_by_zero", lambda m, a, b: a / b, [a64(1, -1, 0, 2), a64(0, 0, 0, INF)]),
    case("mul_zero_inf", lambda m, a, b: a * b, [a64(0, INF, -INF), a64(INF, 0, 2)]),
    case("pow0_at_0", lambda m, a: a ** 0, [a64(0, 1, -2)]),
    case("pow0_float_at_0", lambda m, a: a ** 0.0, [a64(0, 1, -2)]),
    case("pow1_at_0", lambda m, a: a ** 1, [a64(0, -0.0, 3)]),
    case("pow2_at_0", lambda m, a: a ** 2, [a64(0, INF, -INF)]),
    case("pow_half_at_0", lambda m, a: a ** 0.5, [a64(0, 1, INF)]),
    case("pow_neg_at_0", lambda m, a: a ** -1.0, [a64(0, 2, INF)]),
    case("pow_tensor_base0", lambda m, a, b: a ** b, [a64(0, 0, 0, 0, 3), a64(0, 1, 2, -1, 0)]),
    case("pow_tensor_negbase", lambda m, a, b: a ** b, [a64(-2, -2, -1), a64(2, 0.5, 0)]),
    case("rpow_zero_base", lambda m, y: 0.0 ** y, [a64(0, 1, -1, 2)]),
    case("rpow_inf_exponent", lambda m, y: 2.0 ** y, [a64(INF, -INF, 0)]),
    case("abs_at_0", lambda m, a: m.abs(a), [a64(0, -0.0, INF, -INF)]),
    case("exp_edges", lambda m, a: m.exp(a), [a64(INF, -INF, 800, -800)]),
    case("log_edges", lambda m, a: m.log(a), [a64(0, INF, 1e-320, -1)]),
    case("sqrt_edges", lambda m, a: m.sqrt(a), [a64(0, INF, 4, -1)]),
    case("sin_inf", lambda m, a: m.sin(a), [a64(INF, -INF, 0)]),
    case("cos_inf", lambda m, a: m.cos(a), [a64(INF, -INF, 0)]),
    case("tanh_saturated", lambda m, a: m.tanh(a), [a64(INF, -INF, 30, -30)]),
    case("sigmoid_saturated", lambda m, a: m.sigmoid(a), [a64(INF, -INF, 50, -50, 800)]),
    case("sigmoid_saturated_f32", lambda m, a: m.sigmoid(a), [a32(17, 20, -20, -90, 90)]),
    case("relu_at_0", lambda m, a: m.relu(a), [a64(0, -0.0, INF, -INF)]),
    case("maximum_ties", lambda m, a, b: m.maximum(a, b), [a64(1, 2, INF, -INF),
                                                           a64(1, 3, INF, -INF)]),
    case("minimum_ties", lambda m, a, b: m.minimum(a, b), [a64(1, 2, -INF), a64(1, 0, -INF)]),
    case("where_inf_unselected", lambda m, a, b: m.where(a > 0, a, b),
         [a64(1, -1, 2), a64(INF, 2, NAN)]),
    case("clip_boundaries", lambda m, a: m.clip(a, -1, 1), [a64(-1, 1, 0, INF, -INF)]),
    case("sub_inf_inf", lambda m, a, b: a - b, [a64(INF, -INF, 1), a64(INF, 1, -INF)]),
    case("cast_overflow_f32", lambda m, a: a.float() * 2, [a64(1e300, -1e300, 1)]),
    case("index_empty_mask", lambda m, a: a[a > 5] * 2, [a64(1, 2, 3)]),
    case("cat_with_empty", lambda m, a, b: m.cat([a, b], 0) * 2, [np.zeros((0, 2)), np.ones((1, 2))]),
    case("matmul_empty", lambda m, a, b: a @ b, [np.zeros((3, 0)), np.zeros((0, 4))]),
    # ---- piecewise-constant functions: zero gradient, not "no gradient" ---------------------
    case("floor", lambda m, a: m.floor(a), [a64(1.5, -0.5, 0, 2)]),
    case("ceil", lambda m, a: m.ceil(a), [a64(1.5, -0.5, 0, 2)]),
    case("round", lambda m, a: m.round(a), [a64(1.5, -0.5, 0, 2.5)]),
    case("round_decimals", lambda m, a: m.round(a, decimals=1), [a64(1.25, -0.55, 0, 2.5)]),
    case("sign", lambda m, a: m.sign(a), [a64(1.5, -0.5, 0, -INF)]),
    case("floor_method_chain", lambda m, a: a.floor() * a, [a64(1.5, -0.5, 0, 2)]),
    # ---- reductions: empty, one element, constant, ties --------------------------------------
    case("sum_empty", lambda m, a: a.sum(0), [np.zeros((0, 3))]),
    case("mean_empty_dim", lambda m, a: a.mean(1), [np.zeros((3, 0))]),
    case("mean_empty_all", lambda m, a: a.mean(), [np.zeros((0,))]),
    case("var_one_element", lambda m, a: a.var(1), [a64(2, 3).reshape(2, 1)],
         warns="degrees of freedom"),
    case("var_all_one_element", lambda m, a: a.var(), [a64(2)], warns="degrees of freedom"),
    case("std_one_element", lambda m, a: a.std(1), [a64(2, 3).reshape(2, 1)],
         warns="degrees of freedom"),
    case("var_one_element_biased", lambda m, a: a.var(1, unbiased=False),
         [a64(2, 3).reshape(2, 1)]),
    case("std_constant", lambda m, a: a.std(1), [CONST]),
    case("std_constant_all", lambda m, a: a.std(), [np.full((2, 3), 2.0)]),
    case("std_constant_biased", lambda m, a: a.std(1, unbiased=False), [CONST]),
    case("var_constant", lambda m, a: a.var(1), [CONST]),
    case("max_dim_ties", lambda m, a: a.max(1)[0], [TIES]),
    case("min_dim_ties", lambda m, a: a.min(1)[0], [-TIES]),
    case("max_dim_keepdim_ties", lambda m, a: a.max(0, keepdim=True)[0], [TIES]),
    case("max_dim_values_attr", lambda m, a: a.max(-1).values, [TIES]),
    case("max_dim_inf", lambda m, a: a.max(1)[0], [np.array([[INF, 1, INF], [-INF, -INF, -INF]])]),
    case("max_dim_nan", lambda m, a: a.max(1)[0], [np.array([[1, NAN, 3.0], [NAN, NAN, 0]])]),
    case("max_all_ties", lambda m, a: a.max(), [TIES]),
    case("min_all_ties", lambda m, a: a.min(), [TIES]),
    case("amax_ties", lambda m, a: m.amax(a, 1), [TIES]),
    case("amin_ties", lambda m, a: m.amin(a, (0, 1)), [TIES]),
    case("logsumexp_all_neg_inf", lambda m, a: m.logsumexp(a, 1),
         [np.array([[-INF, -INF], [0, -INF]])]),
    case("logsumexp_pos_inf", lambda m, a: m.logsumexp(a, 1), [np.array([[INF, 1], [INF, INF]])]),
    case("logsumexp_empty_dim", lambda m, a: m.logsumexp(a, 1), [np.zeros((2, 0))]),
    case("logsumexp_large", lambda m, a: m.logsumexp(a, 1), [np.array([[1e4, 1e4], [-1e4, 0]])]),
    case("prod_zeros", lambda m, a: a.prod(1), [np.array([[0, 0, 2.0], [0, 3, 2], [1, 2, 3]])]),
    case("prod_empty", lambda m, a: a.prod(), [np.zeros((0,))]),
    # ---- activations ---------------------------------------------------------------------------
    case("softmax_large", lambda m, a: F(m).softmax(a, dim=1),
         [np.array([[1e4, -1e4, 0], [-INF, 0, 1]])]),
    case("log_softmax_large", lambda m, a: F(m).log_softmax(a, dim=1),
         [np.array([[1e4, -1e4, 0], [-INF, 0, 1]])]),
    case("softplus_threshold", lambda m, a: F(m).softplus(a),
         [a64(1000, -1000, 20, 20.0001, INF, -INF)]),
    case("elu_edges", lambda m, a: F(m).elu(a), [a64(-INF, 0, INF, -1000)]),
    case("leaky_relu_edges", lambda m, a: F(m).leaky_relu(a), [a64(0, -INF, INF)]),
    case("gelu_edges", lambda m, a: F(m).gelu(a), [a64(0, 40, -40, INF)]),
    case("gelu_tanh_edges", lambda m, a: F(m).gelu(a, approximate="tanh"),
         [a64(0, 40, -40, 1e4)]),
    case("gelu_neg_inf", lambda m, a: F(m).gelu(a), [a64(-INF, -1e4)]),
    case("softmax_all_neg_inf_row", lambda m, a: F(m).softmax(a, dim=1),
         [np.array([[-INF, -INF], [0, 1.0]])]),
    case("log_softmax_all_neg_inf_row", lambda m, a: F(m).log_softmax(a, dim=1),
         [np.array([[-INF, -INF], [0, 1.0]])]),
    case("prod_zero_inf", lambda m, a: a.prod(1), [np.array([[0, INF], [2, INF]])]),
    # ---- layers --------------------------------------------------------------------------------
    case("max_pool_ties", lambda m, a: F(m).max_pool2d(a, 2),
         [np.zeros((1, 1, 4, 4)) + np.kron(np.eye(2), np.ones((2, 2)))[None, None]]),
    case("max_pool_ties_overlap", lambda m, a: F(m).max_pool2d(a, 2, stride=1),
         [np.zeros((1, 2, 3, 3))]),
    case("adaptive_max_pool_ties", lambda m, a: F(m).adaptive_max_pool2d(a, (2, 2)),
         [np.zeros((1, 1, 5, 5))]),
    case("adaptive_max_pool_diagonal_ties", lambda m, a: F(m).adaptive_max_pool2d(a, (2, 2)),
         [np.array([[[[0, 1.0, 0], [1, 0, 0], [0, 0, 1]]]])]),
    case("max_pool_diagonal_ties", lambda m, a: F(m).max_pool2d(a, 3),
         [np.array([[[[0, 1.0, 0], [1, 0, 0], [0, 0, 1]]]])]),
    case("adaptive_max_pool_ties_regular", lambda m, a: F(m).adaptive_max_pool2d(a, 2),
         [np.zeros((1, 1, 4, 4))]),
    case("avg_pool_inf", lambda m, a: F(m).avg_pool2d(a, 2),
         [np.array([[[[INF, 0], [1, 2.0]]]])]),
    case("layer_norm_constant", lambda m, a: F(m).layer_norm(a, (3,)), [CONST]),
    case("batch_norm_train_constant_channel",
         lambda m, a, rm, rv: F(m).batch_norm(a, rm, rv, training=True),
         [np.array([[2.0, 1.0], [2.0, 3.0], [2.0, 0.0]]), np.zeros(2), np.ones(2)], nograd=(1, 2)),
    case("dropout_p1", lambda m, a: F(m).dropout(a, p=1.0), [a64(1, -2, 3)]),
    case("linear_empty_batch", lambda m, a, w, b: F(m).linear(a, w, b),
         [np.zeros((0, 3)), np.ones((2, 3)), np.ones(2)]),
    case("conv2d_zero_input", lambda m, a, w: F(m).conv2d(a, w, padding=1),
         [np.zeros((1, 1, 3, 3)), np.ones((2, 1, 3, 3))]),
    case("embedding_padding_idx", lambda m, i, w: F(m).embedding(i, w, padding_idx=0),
         [idx(0, 1, 0, 2), np.ones((3, 2))]),
    case("cross_entropy_empty_batch", lambda m, z, t: F(m).cross_entropy(z, t),
         [np.zeros((0, 3)), idx()]),
    case("mse_empty", lambda m, a, b: F(m).mse_loss(a, b), [np.zeros(0), np.zeros(0)]),
    # ---- losses --------------------------------------------------------------------------------
    case("bce_p_0_and_1", lambda m, p, y: F(m).binary_cross_entropy(p, y, reduction="none"),
         [a64(0, 1, 0, 1, 0.5), a64(0, 1, 1, 0, 0.3)], nograd=(1,)),
    case("bce_p_0_and_1_mean", lambda m, p, y: F(m).binary_cross_entropy(p, y),
         [a64(0, 1, 0, 1, 0.5), a64(0, 1, 1, 0, 0.3)], nograd=(1,)),
    case("bce_saturated_sigmoid_f32",
         lambda m, z, y: F(m).binary_cross_entropy(m.sigmoid(z), y),
         [a32(17, 20, -104, 30, 0.5), a32(1, 0, 0, 1, 1)], nograd=(1,)),
    case("bce_weighted_p_1", lambda m, p, y, w: F(m).binary_cross_entropy(p, y, weight=w),
         [a64(1, 0.2), a64(1, 0), a64(2, 3)], nograd=(1, 2)),
    case("bce_with_logits_large", lambda m, z, y: F(m).binary_cross_entropy_with_logits(z, y),
         [a64(1e4, -1e4, 1e4, -1e4), a64(1, 0, 0, 1)]),
    case("bce_with_logits_inf", lambda m, z, y: F(m).binary_cross_entropy_with_logits(z, y),
         [a64(INF, -INF, INF, -INF), a64(0, 1, 0.5, 0)]),
    case("cross_entropy_all_ignored",
         lambda m, z, t: F(m).cross_entropy(z, t), [np.ones((3, 4)), idx(-100, -100, -100)]),
    case("cross_entropy_all_ignored_smoothing",
         lambda m, z, t: F(m).cross_entropy(z, t, label_smoothing=0.1),
         [np.ones((3, 4)), idx(-100, -100, -100)]),
    case("cross_entropy_all_ignored_weight",
         lambda m, z, t, w: F(m).cross_entropy(z, t, weight=w),
         [np.ones((2, 3)), idx(-100, -100), a64(1, 2, 3)], nograd=(2,)),
    case("cross_entropy_all_ignored_custom_index",
         lambda m, z, t: F(m).cross_entropy(z, t, ignore_index=2), [np.ones((2, 3)), idx(2, 2)]),
    case("cross_entropy_some_ignored", lambda m, z, t: F(m).cross_entropy(z, t),
         [np.array([[1e4, -1e4, 0], [1.0, 2.0, 3.0]]), idx(0, -100)]),
    case("cross_entropy_neg_inf_logit", lambda m, z, t: F(m).cross_entropy(z, t),
         [np.array([[0, -INF, 1.0]]), idx(0)]),
    case("nll_all_ignored", lambda m, z, t: F(m).nll_loss(z, t),
         [-np.ones((3, 4)), idx(-100, -100, -100)]),
    case("multi_margin_at_margin", lambda m, x, t: F(m).multi_margin_loss(x, t),
         [np.array([[1.0, 0.0, 0.5], [0.0, -1.0, 2.0]]), idx(0, 2)]),
    case("multi_margin_at_margin_p2", lambda m, x, t: F(m).multi_margin_loss(x, t, p=2),
         [np.array([[1.0, 0.0, 0.5]]), idx(0)]),
    case("l1_zero_difference", lambda m, a, b: F(m).l1_loss(a, b), [a64(1, 2), a64(1, 3)]),
    case("smooth_l1_at_beta", lambda m, a, b: F(m).smooth_l1_loss(a, b),
         [a64(1, -1, 0), a64(0, 0, 0)]),
    case("huber_at_delta", lambda m, a, b: F(m).huber_loss(a, b), [a64(1, -1, 0), a64(0, 0, 0)]),
]


def _ember_in(a, grad):
    return ember.tensor(a.copy(), requires_grad=grad)


def _torch_in(torch, a, grad):
    return torch.tensor(a.copy(), requires_grad=grad)


def _close(actual, expected, what, rtol):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-300, equal_nan=True,
                               err_msg=what)


@pytest.mark.parametrize("fn,inputs,nograd,warns", CASES)
def test_edge_matches_torch(fn, inputs, nograd, warns):
    torch = torch_or_skip()
    grads = [a.dtype.kind == "f" and i not in nograd for i, a in enumerate(inputs)]
    tt = [_torch_in(torch, a, g) for a, g in zip(inputs, grads)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fn(torch, *tt)
    g = np.random.default_rng(0).uniform(0.5, 1.5, tuple(ref.shape)).astype(inputs[0].dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.backward(torch.tensor(g))
    ts = [_ember_in(a, gr) for a, gr in zip(inputs, grads)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(ember, *ts)
        assert out.requires_grad, "the output lost its graph (no gradient at all)"
        out.backward(ember.tensor(g))
    if warns:
        msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        assert any(warns in s for s in msgs), f"expected a warning about {warns!r}, got {msgs}"
    rtol = 1e-5 if inputs[0].dtype == np.float32 else 1e-7
    _close(out.data, ref.detach().numpy(), "forward", rtol)
    assert out.data.dtype == ref.detach().numpy().dtype
    for i, (t, r) in enumerate(zip(ts, tt)):
        if r.requires_grad:
            assert t.grad is not None, f"no gradient for input {i}"
            _close(t.grad.data, r.grad.numpy(), f"gradient of input {i}", rtol)


def test_cross_entropy_zero_weight_targets_gradient_is_zero_not_nan():
    # A deliberate difference: when every target's class has weight 0 PyTorch gives a NaN
    # gradient (while all-ignored targets give 0); no logit took part in the loss, so ember
    # gives 0 in both cases, and the same NaN loss (0/0).
    z = ember.tensor(np.ones((2, 3)), requires_grad=True)
    loss = ember.nn.functional.cross_entropy(z, ember.tensor(idx(0, 0)),
                                             weight=ember.tensor(a64(0, 1, 1)))
    loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(z.grad.data, np.zeros((2, 3)))


def test_training_through_saturated_sigmoid_and_bce_stays_finite():
    # the report: a float32 sigmoid saturated at z >= 17 gives p == 1 exactly
    w = ember.tensor(np.array([[20.0], [-30.0]], np.float32), requires_grad=True)
    x = ember.tensor(np.eye(2, dtype=np.float32))
    y = ember.tensor(np.array([[0.0], [1.0]], np.float32))
    opt = ember.optim.SGD([w], lr=0.1)
    for _ in range(3):
        loss = ember.nn.BCELoss()(ember.sigmoid(x @ w), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(w.grad.data))
    assert np.all(np.isfinite(w.data))


def test_var_one_element_backward_no_zero_division():
    x = ember.tensor(np.ones((3, 1)), requires_grad=True)
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        v = x.var(1)
    assert np.all(np.isnan(v.data))
    v.sum().backward()  # ZeroDivisionError before
    assert np.all(np.isnan(x.grad.data))


def test_max_dim_indices_and_values_agree_under_ties():
    x = ember.tensor(TIES, requires_grad=True)
    values, indices = x.max(1)
    assert indices.tolist() == [1, 0] and values.tolist() == [3, 2]
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [1, 0, 0]])
