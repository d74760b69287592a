"""Cross-entropy's common-case fast path (class indices, no weight, no smoothing) gives the
same floats as the general path, which a weight of ones takes (w[y] = 1 everywhere)."""
import numpy as np
import pytest

import ember
from ember.nn import functional as F


def _loss_and_grad(z, y, reduction, weight):
    zt = ember.tensor(z, requires_grad=True)
    out = F.cross_entropy(zt, ember.tensor(y), weight=weight, reduction=reduction)
    out.sum().backward() if reduction == "none" else out.backward()
    return out.data, zt.grad.data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(1, 2), (128, 10), (7, 3)])
def test_fast_path_matches_general_path(dtype, reduction, shape):
    rng = np.random.default_rng(sum(shape))
    z = (rng.standard_normal(shape) * 4).astype(dtype)
    y = rng.integers(0, shape[1], shape[0])
    fast = _loss_and_grad(z, y, reduction, None)
    general = _loss_and_grad(z, y, reduction, ember.tensor(np.ones(shape[1], dtype)))
    for a, b in zip(fast, general):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)


def test_ignored_targets_and_infinite_logits_still_right():
    z = np.array([[1.0, 2.0, 3.0], [0.5, -np.inf, 0.0], [2.0, 1.0, 0.0]], np.float32)
    y = np.array([2, 0, -100])
    loss, grad = _loss_and_grad(z, y, "mean", None)
    import torch
    zt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(zt, torch.tensor(y))
    ref.backward()
    np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-6, atol=1e-7)
