"""Every differentiable op: finite-difference gradient check (float64) and a forward + backward
comparison with PyTorch on the same inputs."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from tests.conftest import torch_or_skip

rng = np.random.default_rng(1)


def pos(*s):
    return rng.uniform(0.5, 2.0, s)


def anyv(*s):
    return rng.standard_normal(s)


def away0(*s):  # values away from kinks (abs, relu, clip, max ties)
    x = rng.uniform(0.2, 2.0, s)
    return x * rng.choice([-1.0, 1.0], s)


# name, function(ember or torch module, *tensors), input arrays
CASES = [
    ("add", lambda m, a, b: a + b, [anyv(3, 4), anyv(3, 4)]),
    ("add_broadcast", lambda m, a, b: a + b, [anyv(2, 3, 4), anyv(3, 1)]),
    ("add_scalar", lambda m, a: 2.5 + a, [anyv(3)]),
    ("sub_broadcast", lambda m, a, b: a - b, [anyv(4, 1), anyv(1, 5)]),
    ("rsub", lambda m, a: 1.0 - a, [anyv(3)]),
    ("mul_broadcast", lambda m, a, b: a * b, [anyv(2, 3, 4), anyv(4)]),
    ("div_broadcast", lambda m, a, b: a / b, [anyv(3, 4), pos(3, 1)]),
    ("rdiv", lambda m, a: 2.0 / a, [pos(3, 2)]),
    ("pow_scalar", lambda m, a: a ** 3, [anyv(3, 4)]),
    ("pow_tensor", lambda m, a, b: a ** b, [pos(3, 4), anyv(4)]),
    ("rpow", lambda m, a: 2.0 ** a, [anyv(5)]),
    ("neg", lambda m, a: -a, [anyv(3, 2)]),
    ("abs", lambda m, a: m.abs(a), [away0(3, 4)]),
    ("exp", lambda m, a: m.exp(a), [anyv(3, 4)]),
    ("log", lambda m, a: m.log(a), [pos(3, 4)]),
    ("sqrt", lambda m, a: m.sqrt(a), [pos(3, 4)]),
    ("sin", lambda m, a: m.sin(a), [anyv(3, 4)]),
    ("cos", lambda m, a: m.cos(a), [anyv(3, 4)]),
    ("tanh", lambda m, a: m.tanh(a), [anyv(3, 4)]),
    ("sigmoid", lambda m, a: m.sigmoid(a), [anyv(3, 4) * 3]),
    ("relu", lambda m, a: m.relu(a), [away0(3, 4)]),
    ("maximum", lambda m, a, b: m.maximum(a, b), [anyv(3, 4), anyv(4)]),
    ("minimum", lambda m, a, b: m.minimum(a, b), [anyv(3, 4), anyv(3, 1)]),
    ("where", lambda m, a, b: m.where(a > 0, a, b), [away0(3, 4), anyv(3, 4)]),
    ("clip", lambda m, a: m.clip(a, -0.5, 0.7), [rng.uniform(-1.5, 1.5, (4, 5))]),
    ("matmul_mm", lambda m, a, b: a @ b, [anyv(3, 4), anyv(4, 5)]),
    ("matmul_mv", lambda m, a, b: a @ b, [anyv(3, 4), anyv(4)]),
    ("matmul_vm", lambda m, a, b: a @ b, [anyv(4), anyv(4, 2)]),
    ("matmul_vv", lambda m, a, b: a @ b, [anyv(4), anyv(4)]),
    ("matmul_batched", lambda m, a, b: a @ b, [anyv(2, 3, 4), anyv(2, 4, 5)]),
    ("matmul_batch_bcast", lambda m, a, b: a @ b, [anyv(2, 3, 4), anyv(4, 5)]),
    ("matmul_batch_bcast2", lambda m, a, b: a @ b, [anyv(3, 4), anyv(2, 4, 5)]),
    ("sum_all", lambda m, a: a.sum(), [anyv(3, 4)]),
    ("sum_dim", lambda m, a: a.sum(1), [anyv(3, 4, 2)]),
    ("sum_dims_keep", lambda m, a: a.sum((0, 2), keepdim=True), [anyv(3, 4, 2)]),
    ("mean_all", lambda m, a: a.mean(), [anyv(3, 4)]),
    ("mean_dim_keep", lambda m, a: a.mean(-1, keepdim=True), [anyv(3, 4)]),
    ("var_all", lambda m, a: a.var(), [anyv(3, 4)]),
    ("var_dim", lambda m, a: a.var(0), [anyv(5, 3)]),
    ("var_keep_biased", lambda m, a: a.var(1, unbiased=False, keepdim=True), [anyv(3, 6)]),
    ("std_all", lambda m, a: a.std(), [anyv(3, 4)]),
    ("std_dim_keep", lambda m, a: a.std(1, keepdim=True), [anyv(3, 5)]),
    ("max_all", lambda m, a: a.max(), [anyv(3, 4)]),
    ("max_dim", lambda m, a: a.max(1)[0], [anyv(3, 4)]),
    ("min_dim_keep", lambda m, a: a.min(0, keepdim=True).values, [anyv(3, 4)]),
    ("amax_dims", lambda m, a: m.amax(a, (0, 2)), [anyv(3, 4, 2)]),
    ("logsumexp_dim", lambda m, a: m.logsumexp(a, 1), [anyv(3, 4) * 5]),
    ("logsumexp_keep", lambda m, a: m.logsumexp(a, 0, keepdim=True), [anyv(3, 4)]),
    ("prod_all", lambda m, a: a.prod(), [pos(2, 3)]),
    ("prod_dim", lambda m, a: a.prod(1), [anyv(3, 4)]),
    ("prod_dim_keep_zero", lambda m, a: a.prod(0, keepdim=True),
     [np.array([[0.0, 1.5], [2.0, -1.0], [3.0, 0.5]])]),
    ("reshape", lambda m, a: a.reshape(4, 3) * 2, [anyv(3, 4)]),
    ("view_infer", lambda m, a: a.view(-1, 2) * 2, [anyv(3, 4)]),
    ("flatten", lambda m, a: m.flatten(a, 1) * 2, [anyv(2, 3, 4)]),
    ("squeeze", lambda m, a: a.squeeze(1) * 2, [anyv(3, 1, 4)]),
    ("unsqueeze", lambda m, a: a.unsqueeze(0) * 2, [anyv(3, 4)]),
    ("transpose", lambda m, a: a.transpose(0, 2) * 2, [anyv(2, 3, 4)]),
    ("permute", lambda m, a: a.permute(2, 0, 1) * 2, [anyv(2, 3, 4)]),
    ("T", lambda m, a: a.T @ a, [anyv(3, 4)]),
    ("expand", lambda m, a: a.expand(2, 3, 4) * 2, [anyv(3, 1)]),
    ("cat", lambda m, a, b: m.cat([a, b], 1), [anyv(2, 3), anyv(2, 4)]),
    ("stack", lambda m, a, b: m.stack([a, b], 1), [anyv(2, 3), anyv(2, 3)]),
    ("split", lambda m, a: a.split(2, 1)[1] * 3, [anyv(2, 5)]),
    ("chunk", lambda m, a: a.chunk(3, 0)[2] * 3, [anyv(6, 2)]),
    ("index_basic", lambda m, a: a[1:, ::2] * 2, [anyv(3, 4)]),
    ("index_int", lambda m, a: a[1] * 2, [anyv(3, 4)]),
    ("index_fancy_repeat", lambda m, a: a[[0, 2, 0]] * 2, [anyv(3, 4)]),
    ("index_pairs", lambda m, a: a[range(3), [1, 0, 3]] * 2, [anyv(3, 4)]),
    ("index_mask", lambda m, a: a[a > 0] * 2, [away0(3, 4)]),
    ("floor_ceil_round_sign", lambda m, a: (m.floor(a) + m.ceil(a) + m.round(a) + m.sign(a)) * a,
     [rng.uniform(0.1, 0.4, (3, 4)) + rng.integers(-3, 3, (3, 4))]),
    ("max_dim_gather", lambda m, a: a.max(0)[0] * a.min(1, keepdim=True)[0].sum(), [anyv(3, 4)]),
    ("bce_probs", lambda m, p, y: m.nn.functional.binary_cross_entropy(p, y),
     [rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))]),
    ("chain", lambda m, a, b: m.tanh(a @ b).sum(0) * m.sigmoid(b.sum(0)), [anyv(3, 4), anyv(4, 2)]),
]


def _torch_pad(m):
    return m.nn.functional.pad


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn, arrays):
    ts = [ember.tensor(a.copy(), dtype=ember.float64, requires_grad=True) for a in arrays]
    assert gradcheck(lambda *xs: fn(ember, *xs), ts)


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_against_torch(name, fn, arrays):
    torch = torch_or_skip()
    ts = [ember.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    tt = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = fn(ember, *ts)
    ref = fn(torch, *tt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(ref.shape).astype(np.float32)
    out.backward(ember.tensor(g))
    ref.backward(torch.tensor(g))
    for t, r in zip(ts, tt):
        np.testing.assert_allclose(t.grad.data, r.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_pad_gradcheck_and_torch():
    a = ember.tensor(anyv(2, 3), dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda x: ember.pad(x, (1, 2, 0, 1), value=0.5) ** 2, [a])
    torch = torch_or_skip()
    t = torch.tensor(a.data, requires_grad=True)
    ref = torch.nn.functional.pad(t, (1, 2, 0, 1), value=0.5)
    np.testing.assert_allclose(ember.pad(a, (1, 2, 0, 1), value=0.5).data, ref.detach().numpy())
    # NumPy's per-axis form gives the same
    np.testing.assert_allclose(ember.pad(a, ((0, 1), (1, 2)), value=0.5).data,
                               ref.detach().numpy())


def test_gradcheck_detects_a_wrong_rule():
    from ember.autograd import Function, GradcheckError

    class BadSquare(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.a = a
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g * ctx.a  # should be 2 a g

    x = ember.tensor(anyv(3), dtype=ember.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match="analytic .* numeric"):
        gradcheck(BadSquare.apply, [x])


def test_gradcheck_refuses_float32():
    x = ember.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda a: a * 2, [x])
