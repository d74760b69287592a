"""Gradients flowing out of a jitted function into eager code: the compiled call is one node
of the eager tape, whose backward runs the compiled backward graph."""
import warnings

import numpy as np

import ember
from ember import nn
from ember.nn import functional as F


def _grads(x, model):
    return [x.grad.data.copy()] + [p.grad.data.copy() for p in model.parameters()]


def _compare(fn, model, make_inputs, loss_of, calls=3, seed=None):
    jf = ember.jit(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # compiled, not an eager fallback
        for i in range(calls):
            base = make_inputs(i)
            got = {}
            for mode, f in (("eager", fn), ("jit", jf)):
                model.zero_grad()
                x = base.detach().requires_grad_(True)
                if seed is not None:
                    ember.manual_seed(seed + i)
                loss = loss_of(f, x * 1.5)  # a non-leaf input: the gradient goes on to x
                loss.backward()
                got[mode] = (float(loss.data), _grads(x, model))
            assert abs(got["jit"][0] - got["eager"][0]) <= 1e-5 * abs(got["eager"][0])
            for a, b in zip(got["eager"][1], got["jit"][1]):
                np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    entry = next(iter(jf._compiled.values()))
    assert type(entry).__name__ == "_DiffCompiled"
    return jf


def test_gradients_of_a_jitted_call_reach_its_inputs_and_parameters():
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))

    def f(x):
        h = m(x)
        return F.softmax(h, dim=-1) * 2.0, h   # two differentiable results

    def loss_of(f, x):
        a, h = f(x)
        return (a * a).sum() + h.mean()        # an eager loss on both

    _compare(f, m, lambda i: ember.randn(5, 4), loss_of)


def test_an_unused_result_contributes_nothing_and_calls_can_be_combined():
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    def f(x):
        return m(x), m(x).sum()

    def loss_of(f, x):
        a, _ = f(x)                            # the second result is not used
        b, _ = f(x * 2.0)                      # two calls before one backward
        return (a * b).sum()

    _compare(f, m, lambda i: ember.randn(6, 3), loss_of)


def test_dropout_masks_of_the_call_are_the_ones_its_backward_uses():
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2)).train()
    _compare(lambda x: m(x), m, lambda i: ember.randn(4, 5),
             lambda f, x: (f(x) ** 2).mean(), seed=10)
