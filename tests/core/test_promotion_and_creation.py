"""PyTorch's type promotion (not NumPy's), and creation functions' PyTorch forms."""
import numpy as np
import pytest

import ember
from tests.conftest import torch_or_skip


@pytest.mark.parametrize("expr", [
    lambda m: m.tensor([1.0, 2.0]) + m.tensor([1, 2]),
    lambda m: m.tensor([1, 2]) / 2,
    lambda m: m.tensor([1, 2]) + 1.5,
    lambda m: m.tensor(np.array([0, 255], np.uint8)) / 255,
    lambda m: m.where(m.tensor([True, False]), 1.0, 0.0),
    lambda m: m.tensor([1.0, 2.0]) * m.tensor(np.float64(2.0)),
    lambda m: m.tensor(np.ones(2)) * 2,
    lambda m: m.tensor(np.float64(1.0)) + m.tensor(np.float64(2.0)),
    lambda m: m.tensor([3, 4]) * 2,
    lambda m: m.exp(m.tensor([1.0, 2.0], dtype=m.float64)),
])
def test_result_dtype_matches_torch(expr):
    torch = torch_or_skip()
    ours, ref = expr(ember), expr(torch)
    assert np.dtype(ours.dtype) == np.dtype(str(ref.dtype).replace("torch.", "")), \
        (ours.dtype, ref.dtype)
    np.testing.assert_allclose(ours.data, ref.numpy(), rtol=1e-6)


def test_int_division_values_are_true_division():
    assert (ember.tensor([1, 3]) / 2).tolist() == [0.5, 1.5]


def test_randint_torch_forms_and_rand_dtype_errors():
    a = ember.randint(5, (3,))
    assert a.shape == (3,) and a.dtype == np.int64 and 0 <= a.data.min() and a.data.max() < 5
    b = ember.randint(2, 4, (100,))
    assert set(b.tolist()) <= {2, 3}
    with pytest.raises(ValueError, match="greater than low"):
        ember.randint(3, 3, (2,))
    with pytest.raises(TypeError, match="floating dtype"):
        ember.rand_like(ember.tensor([1, 2]))


def test_clip_with_tensor_bounds_is_differentiable():
    lo = ember.tensor([0.5, 0.5], requires_grad=True)
    hi = ember.tensor([2.0, 2.0], requires_grad=True)
    x = ember.tensor([0.0, 3.0], requires_grad=True)
    x.clip(lo, hi).sum().backward()
    assert lo.grad.tolist() == [1, 0] and hi.grad.tolist() == [0, 1]
    assert x.grad.tolist() == [0, 0]
