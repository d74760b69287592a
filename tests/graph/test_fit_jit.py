"""``Model.fit(jit=True)``: the compiled train step gives the eager run's weights."""
import warnings

import numpy as np
import pytest

import ember
from ember import nn


def _fit(jit):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 12)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int64)
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                        nn.Linear(16, 2))
    model = ember.Model(net)
    model.compile(optimizer=ember.optim.Adam(net.parameters(), lr=1e-2), loss="cross_entropy",
                  metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to eager would warn: it must not happen
        hist = model.fit(x, y, batch_size=20, epochs=2, verbose=0, jit=jit)
    if jit:  # it compiled (no eager fallback) and replayed
        entries = list(model._jit_step._compiled.values())
        assert entries and all(e != "eager" for e in entries)
    return [p.data.copy() for p in net.parameters()], \
        [b.data.copy() for b in net.buffers()], hist.history


def test_jitted_fit_equals_eager_fit():
    pe, be, he = _fit(False)
    pj, bj, hj = _fit(True)
    for a, b in zip(pe + be, pj + bj):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert hj["loss"] == pytest.approx(he["loss"], rel=1e-5)


def test_ember_train_jit_key(tmp_path):
    from ember.cli.config import ConfigError, load_config
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[model.layers]]\ntype = "ReLU"\n[solver]\njit = true\n')
    assert load_config(str(cfg))["solver"]["jit"] is True
    cfg.write_text('[[model.layers]]\ntype = "ReLU"\n[solver]\njit = "yes"\n')
    with pytest.raises(ConfigError, match="jit"):
        load_config(str(cfg))


def test_the_jitted_step_of_a_model_retraces_when_its_mode_changes():
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    model = ember.Model(net)
    model.compile(optimizer=ember.optim.SGD(net.parameters(), lr=0.1), loss="cross_entropy")
    x = np.ones((6, 4), np.float32)
    y = np.array([0, 1, 0, 1, 0, 1])
    model.fit(x, y, batch_size=6, epochs=1, verbose=0, jit=True)
    step = model._jit_step
    xt, yt = ember.tensor(x), ember.tensor(y)
    model.eval()  # the module flags are part of the signature (the bound method's owner)
    step(xt, yt)
    assert len(step._compiled) == 2
