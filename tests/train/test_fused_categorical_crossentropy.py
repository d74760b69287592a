"""The fused categorical cross-entropy node (``compile(loss='categorical_crossentropy')``) gives
bit for bit the chain clip-log-multiply-sum-mean-negate's loss and gradient, passes a float64
gradient check and matches PyTorch's same expression."""
import numpy as np
import pytest

import ember
from ember.autograd.gradcheck import gradcheck
from ember.ops.nn_loss import ClippedCategoricalCrossEntropy
from ember.train import losses

EPS = losses._EPS


def _chain(p, y):
    return -(p.clip(EPS, 1 - EPS).log() * y).sum(-1).mean()


def _probs(rng, shape, dtype):
    z = rng.standard_normal(shape) * 3
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    p.reshape(-1)[:3] = [0.0, 1.0, 1e-9]  # below, above and at the clip bounds
    return p.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(37, 10), (4, 6, 5), (7,)])
def test_fused_equals_the_chain(dtype, shape):
    rng = np.random.default_rng(0)
    p = _probs(rng, shape, dtype)
    y = np.eye(shape[-1], dtype=dtype)[rng.integers(0, shape[-1], shape[:-1])]
    if y.shape != p.shape:
        y = y.reshape(p.shape)
    got, want = [], []
    for fn, out in ((losses.categorical_crossentropy, got), (_chain, want)):
        t = ember.tensor(p, requires_grad=True)
        loss = fn(t, ember.tensor(y))
        loss.backward()
        out += [loss.data, t.grad.data]
    assert losses.categorical_crossentropy(ember.tensor(p), ember.tensor(y)).data.dtype == dtype
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)


def test_fused_node_is_used_and_mixed_dtypes_take_the_chain():
    p = ember.tensor(np.full((2, 3), 1 / 3, np.float32), requires_grad=True)
    fused = losses.categorical_crossentropy(p, ember.tensor(np.eye(3, dtype=np.float32)[:2]))
    assert type(fused._ctx).__name__ == "ClippedCategoricalCrossEntropy"
    mixed = losses.categorical_crossentropy(p, ember.tensor(np.eye(3, dtype=np.int64)[:2]))
    assert type(mixed._ctx).__name__ == "Neg"
    assert np.allclose(mixed.data, fused.data)
    half = ember.tensor(np.full((2, 3), 1 / 3, np.float16), requires_grad=True)
    low = losses.categorical_crossentropy(half, ember.tensor(np.eye(3, dtype=np.float16)[:2]))
    assert type(low._ctx).__name__ == "Neg"  # the chain, whose log autocast runs in float32


def test_gradcheck():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, (5, 4))
    y = rng.uniform(0, 1, (5, 4))  # soft targets too
    assert gradcheck(lambda t: ClippedCategoricalCrossEntropy.apply(t, ember.tensor(y)),
                     (ember.tensor(p, requires_grad=True),))


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        ClippedCategoricalCrossEntropy.apply(ember.tensor(np.ones((2, 4))),
                                             ember.tensor(np.ones((2, 3))))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    p = _probs(rng, (16, 10), np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    t = ember.tensor(p, requires_grad=True)
    loss = losses.categorical_crossentropy(t, ember.tensor(y))
    loss.backward()
    tp = torch.tensor(p, requires_grad=True)
    tl = -(torch.log(torch.clamp(tp, EPS, 1 - EPS)) * torch.tensor(y)).sum(-1).mean()
    tl.backward()
    assert np.allclose(loss.data, tl.item(), rtol=1e-6)
    assert np.allclose(t.grad.data, tp.grad.numpy(), rtol=1e-6, atol=1e-7)
