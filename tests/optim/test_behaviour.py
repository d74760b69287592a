"""Measured behaviour on textbook problems: momentum and Adam on an ill-conditioned quadratic,
AdaGrad's shrinking step versus RMSprop's steady one."""
import numpy as np
import pytest

import ember
from ember import optim

H = np.array([1.0, 100.0])  # Hessian eigenvalues: condition number 100


def steps_to(opt_factory, tol=1e-3, limit=2000):
    x = ember.tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = opt_factory([x])
    h = ember.tensor(H)
    for k in range(1, limit + 1):
        opt.zero_grad()
        loss = 0.5 * (h * x * x).sum()
        loss.backward()
        opt.step()
        if 0.5 * float((H * x.data ** 2).sum()) < tol:
            return k
    return limit + 1


def test_momentum_and_adam_beat_sgd_on_ill_conditioned_quadratic():
    lr = 0.01  # stable for the stiff direction (lr < 2/100); slow for the flat one
    sgd = steps_to(lambda p: optim.SGD(p, lr=lr))
    momentum = steps_to(lambda p: optim.SGD(p, lr=lr, momentum=0.9))
    nesterov = steps_to(lambda p: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True))
    adam = steps_to(lambda p: optim.Adam(p, lr=lr))
    assert sgd <= 2000  # plain SGD gets there, slowly: (1 - lr)^k for the flat direction
    assert momentum < sgd / 2
    assert nesterov < sgd / 2
    assert adam < sgd


def _effective_steps(opt_factory, n=600):
    """|delta p| per step for a constant gradient (a linear loss g.x)."""
    x = ember.tensor(np.zeros(3), requires_grad=True)
    g = ember.tensor(np.array([1.0, -2.0, 0.5]))
    opt = opt_factory([x])
    out = []
    for _ in range(n):
        before = x.data.copy()
        opt.zero_grad()
        (g * x).sum().backward()
        opt.step()
        out.append(np.abs(x.data - before).max())
    return np.array(out)


def test_adagrad_step_shrinks_rmsprop_step_does_not():
    ada = _effective_steps(lambda p: optim.Adagrad(p, lr=0.1))
    rms = _effective_steps(lambda p: optim.RMSprop(p, lr=0.01))
    # Adagrad: lr * g / sqrt(t g^2) = lr / sqrt(t): shrinks like 1/sqrt(t), forever
    assert np.all(np.diff(ada) < 0)
    np.testing.assert_allclose(ada[[0, 99, 599]], 0.1 / np.sqrt([1, 100, 600]), rtol=1e-6)
    # RMSprop: lr * g / sqrt((1 - alpha^t) g^2) -> lr: it does not decay
    assert rms.min() >= 0.01
    assert rms[-1] == pytest.approx(0.01 / np.sqrt(1 - 0.99 ** 600), rel=1e-6)
    # over the second half of the run: Adagrad's step falls by ~1/sqrt(2), RMSprop's is steady
    assert ada[-1] / ada[299] < 0.75
    assert rms[-1] / rms[299] > 0.95
