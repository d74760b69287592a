"""gradcheck perturbs non-contiguous inputs in place (a reshape(-1) copy once hid their gradient)."""
import numpy as np
import pytest

import ember
from ember.autograd.gradcheck import GradcheckError, gradcheck


def test_gradcheck_passes_on_a_transposed_input():
    base = np.random.default_rng(0).standard_normal((3, 4))
    x = ember.tensor(base.T, requires_grad=True)
    x.data = base.T  # a strided (Fortran-ordered) view, as layers' channels-last outputs are
    assert not x.data.flags["C_CONTIGUOUS"]
    assert gradcheck(lambda t: (t * t).sum(), (x,))


def test_gradcheck_catches_a_wrong_gradient_on_a_strided_input():
    class Wrong(ember.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 3.0  # wrong: the derivative is 2

    base = np.random.default_rng(1).standard_normal((4, 3))
    x = ember.tensor(base.T, requires_grad=True)
    x.data = base.T
    assert not x.data.flags["C_CONTIGUOUS"]
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: Wrong.apply(t), (x,))
