"""Unary ops on 0-d tensors (a scalar loss, a scalar parameter): values and gradients as PyTorch.
A rule that writes into ``-a`` in place broke here once: -a of a 0-d array is a NumPy scalar."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

OPS = ["sigmoid", "tanh", "relu", "exp", "log", "sqrt", "abs", "neg", "sin", "cos"]


@pytest.mark.parametrize("name", OPS)
def test_unary_op_on_a_0d_tensor_matches_torch(name):
    x = ember.tensor(0.7, requires_grad=True)
    y = getattr(x, name)()
    y.backward()
    t = torch.tensor(0.7, requires_grad=True)
    u = getattr(t, name)()
    u.backward()
    assert y.shape == () and np.ndim(y.data) == 0
    assert float(y.data) == pytest.approx(u.item(), rel=1e-6)
    assert float(x.grad.data) == pytest.approx(t.grad.item(), rel=1e-6)
