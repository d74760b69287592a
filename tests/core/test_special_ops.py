"""The Erf primitive (ember/ops/special.py; ONNX Erf): finite-difference gradient check in
float64, and forward + backward against torch.erf in float64 and float32."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.ops.special import Erf
from tests.conftest import torch_or_skip


def test_erf_gradcheck():
    x = ember.tensor(np.linspace(-3, 3, 13), requires_grad=True)
    assert gradcheck(lambda t: Erf.apply(t), [x])


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_erf_matches_torch(dtype, tol):
    torch = torch_or_skip()
    a = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype) * 2
    g = np.random.default_rng(1).standard_normal((4, 5)).astype(dtype)
    x = ember.tensor(a, requires_grad=True)
    y = Erf.apply(x)
    y.backward(ember.tensor(g))
    tx = torch.tensor(a, requires_grad=True)
    ty = torch.erf(tx)
    ty.backward(torch.tensor(g))
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=tol)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), atol=tol * 10)
