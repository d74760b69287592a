"""@ember.jit: traced once per signature, replayed as an optimized graph; untraceable code is
detected and runs eagerly with one warning naming the line."""
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F


def _model():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Dropout(0.5), nn.Linear(16, 3))


def test_replay_equals_eager_and_reads_parameters_live():
    m = _model().eval()

    @ember.jit
    def f(x):
        return F.softmax(m(x), dim=-1) * 2.0 + 1.0

    x = ember.randn(5, 8)
    with ember.no_grad():
        first = f(x)          # the trace (an eager run)
        again = f(x)          # a replay
        np.testing.assert_allclose(again.data, first.data, rtol=1e-6)
        m[0].weight.data *= 0.5  # in-place change between calls: the replay must see it
        want = F.softmax(m(x), dim=-1) * 2.0 + 1.0
        np.testing.assert_allclose(f(x).data, want.data, rtol=1e-6)
    exe = next(iter(f._compiled.values())).exe
    assert any(n.kind == "kernel" for n in exe.program.nodes)  # the graph passes ran
    assert len(f._compiled) == 1


def test_dropout_draws_new_masks_each_replay_like_eager():
    m = _model().train()
    f = ember.jit(lambda x: m(x))
    x = ember.randn(4, 8)
    with ember.no_grad():
        ember.manual_seed(5)
        eager = [m(x).data for _ in range(3)]
        ember.manual_seed(5)
        jitted = [f(x).data for _ in range(3)]
    for a, b in zip(eager, jitted):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not np.allclose(jitted[1], jitted[2])


def test_new_signature_retraces():
    m = _model().eval()
    f = ember.jit(lambda x: m(x))
    with ember.no_grad():
        f(ember.randn(2, 8))
        f(ember.randn(3, 8))
        m.train()
        f(ember.randn(3, 8))
    assert len(f._compiled) == 3


def test_control_flow_on_values_falls_back_with_one_warning_naming_the_line():
    def g(x):
        if x.sum() > 0:  # a Python branch on a tensor value
            return x * 2
        return x - 1

    jg = ember.jit(g)
    pos, neg = ember.ones(3), -ember.ones(3)
    with pytest.warns(UserWarning, match=r"Tensor.__bool__\(\) at .*test_jit.py:\d+"):
        jg(pos)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # only one warning
        np.testing.assert_allclose(jg(neg).data, -2.0)  # never a stale result
        np.testing.assert_allclose(jg(pos).data, 2.0)


def test_item_and_in_place_updates_fall_back_to_eager():
    f = ember.jit(lambda x: (x * 3).sum().item())
    with pytest.warns(UserWarning, match=r"Tensor.item\(\)"):
        assert f(ember.ones(2)) == 6.0
    params = {"w": ember.randn(3, requires_grad=True)}
    w = params["w"]

    def manual_sgd(x):  # an update outside primitives: a trace would replay it stale
        w = params["w"]
        loss = (w * x).sum()
        loss.backward()
        with ember.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
        return loss

    js = ember.jit(manual_sgd)
    w0 = w.data.copy()
    with pytest.warns(UserWarning, match="in place outside a primitive"):
        js(ember.ones(3))
    js(ember.ones(3))
    js(ember.ones(3))
    np.testing.assert_allclose(w.data, w0 - 0.3, rtol=1e-6)


def _bn_net():
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3),
                      nn.Linear(32, 4))
    return m, ember.optim.Adam(m.parameters(), lr=0.01)


def test_jitted_training_step_equals_eager_after_20_steps_with_dropout_and_batch_norm():
    rng = np.random.default_rng(0)
    data = [(ember.tensor(rng.standard_normal((8, 16)).astype(np.float32)),
             ember.tensor(rng.integers(0, 4, 8))) for _ in range(20)]
    runs = {}
    for mode in ("eager", "jit"):
        m, opt = _bn_net()

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss

        f = ember.jit(step) if mode == "jit" else step
        ember.manual_seed(1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # traced, not a fallback
            losses = [float(f(x, y).data) for x, y in data]
        runs[mode] = (losses, [p.data.copy() for p in m.parameters()],
                      m[1].running_mean.data.copy(), m[1].running_var.data.copy(), f)
    (le, pe, rme, rve, _), (lj, pj, rmj, rvj, jf) = runs["eager"], runs["jit"]
    np.testing.assert_allclose(lj, le, rtol=1e-5)
    for a, b in zip(pj, pe):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(rmj, rme, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rvj, rve, rtol=1e-5, atol=1e-7)
    entry = next(iter(jf._compiled.values()))
    assert [e[0] for e in entry.events] == ["zero_grad", "graph", "step"]
    assert any(n.kind == "grad" for n in entry.exe.program.nodes)  # backward is in the graph


def test_results_computed_outside_primitives_are_never_stale():
    m = _model().eval()
    f = ember.jit(lambda x: (m(x), m(x).data))  # an array that is a traced tensor's .data
    g = ember.jit(lambda x: float(m(x).data.sum()))  # a number made from values: not replayable
    with ember.no_grad():
        x1, x2 = ember.randn(2, 8), ember.randn(2, 8)
        f(x1)
        out, arr = f(x2)
        np.testing.assert_allclose(arr, m(x2).data, rtol=1e-6)
        assert isinstance(arr, np.ndarray)
        with pytest.warns(UserWarning, match="returns a float"):
            g(x1)
        assert g(x2) == pytest.approx(float(m(x2).data.sum()), rel=1e-6)
