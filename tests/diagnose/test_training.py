"""During-training checks on the textbook MLP (Fashion-MNIST), overfit-tiny, LR finder."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.diagnose as dx
from ember import optim

from .conftest import mlp


def fit(x, y, lr, epochs=2, **kw):
    ember.manual_seed(0)
    net = mlp()
    model = ember.Model(net)
    model.compile(optimizer=optim.RMSprop(net.parameters(), lr=lr), loss="cross_entropy",
                  metrics=["accuracy"])
    cb = dx.DoctorCallback(report=False, **kw)
    hist = model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, callbacks=[cb],
                     validation_split=0.2)
    return cb, hist


def test_lr_1e6_is_stopped_early_naming_the_learning_rate(fmnist, capsys):
    cb, hist = fit(*fmnist, lr=1e6, epochs=3)
    doc = cb.doctor
    assert doc.should_stop and doc.t <= 3            # stopped within the first steps
    assert len(hist.history["loss"]) == 1            # not a single further epoch
    f = next(f for f in cb.findings if f.check == "loss_exploding")
    assert f.severity == "error" and "learning rate 1e+06" in f.message
    assert "too high" in f.message
    assert "loss_exploding" in capsys.readouterr().out  # printed as it happened


def test_lr_1e6_manual_loop_sees_nan_or_explosion(fmnist):
    x, y = fmnist
    ember.manual_seed(0)
    net = mlp()
    opt = optim.SGD(net.parameters(), lr=1e6)
    doc = dx.Doctor(net, opt, verbose=False)
    with doc.watch():
        for i in range(0, 1280, 128):
            loss = F.cross_entropy(net(ember.tensor(x[i:i + 128])), ember.tensor(y[i:i + 128]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            doc.step(loss)
            if doc.should_stop:
                break
    assert doc.should_stop and doc.t < 5
    assert any(f.check == "loss_exploding" and "1e+06" in f.message for f in doc.findings)


def test_lr_1e_6_loss_barely_changing(fmnist):
    cb, _ = fit(*fmnist, lr=1e-6)
    found = cb.doctor.report(print_report=False)
    flat = [f for f in found if f.check == "loss_flat"]
    assert flat and flat[0].severity == "warning", dx.format_findings(found)
    assert "barely changing" in flat[0].message and "1e-06" in flat[0].message
    assert not cb.doctor.should_stop


def test_sensible_lr_passes(fmnist):
    cb, hist = fit(*fmnist, lr=1e-3)
    found = cb.doctor.report(print_report=False)
    assert not [f for f in found if f.is_problem], dx.format_findings(found)
    assert any(f.check == "loss_trend" and f.severity == "ok" for f in found)
    assert any(f.check == "update_ratio" and f.severity == "ok" for f in found)
    # sampled statistics were recorded: every 10th of the 38 steps
    assert [t for t, _ in cb.doctor.param_history] == [0, 10, 20, 30]
    assert all(not m._forward_hooks for m in cb.model.modules())  # detached at the end


def test_update_ratio_figures(fmnist):
    x, y = fmnist
    net = mlp()
    opt = optim.SGD(net.parameters(), lr=0.05)
    doc = dx.Doctor(net, opt, every=2, verbose=False)
    w0 = net[0].weight.data.copy()
    with doc.watch():
        for i in range(3):
            loss = F.cross_entropy(net(ember.tensor(x[:64])), ember.tensor(y[:64]))
            opt.zero_grad()
            loss.backward()
            if i == 0:
                g0 = net[0].weight.grad.data.copy()
            opt.step()
            doc.step(loss)
    t, ps = doc.param_history[0]
    p = next(p for p in ps if p.name == "0.weight")
    expect = np.linalg.norm(0.05 * g0) / np.linalg.norm(w0)
    assert t == 0 and p.update_ratio == pytest.approx(expect, rel=1e-4)
    assert p.norm == pytest.approx(np.linalg.norm(g0), rel=1e-4)


def test_overfitting_and_underfitting_from_epoch_logs():
    doc = dx.Doctor(mlp(), verbose=False)
    for tr, va in [(0.80, 0.78), (0.88, 0.80), (0.95, 0.81), (0.99, 0.80)]:
        doc.epoch_end({"loss": 1 - tr, "accuracy": tr, "val_loss": 1 - va, "val_accuracy": va})
    assert any(f.check == "overfitting" for f in doc.findings)
    doc = dx.Doctor(mlp(), verbose=False)
    for a in (0.30, 0.32, 0.33):
        doc.epoch_end({"loss": 2.0, "accuracy": a, "val_loss": 2.0, "val_accuracy": a - 0.005})
    assert [f.check for f in doc.findings] == ["underfitting"]


def test_overfit_tiny_passes_for_the_mlp_and_leaves_weights_alone(fmnist):
    net = mlp()
    before = {k: v.data.copy() for k, v in net.state_dict().items()}
    f, res = dx.overfit_tiny(net, *fmnist)
    assert f.severity == "ok" and res["accuracy"] == 1.0 and res["loss"] < 0.1, f
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])


def test_overfit_tiny_fails_with_a_frozen_zero_last_layer(fmnist):
    net = mlp()
    with ember.no_grad():
        net[2].weight.data[...] = 0
        net[2].bias.data[...] = 0
    net[2].requires_grad_(False)
    doc = dx.Doctor(net, verbose=False)
    [f] = doc.overfit_tiny(*fmnist, steps=60)  # a list of findings, like the other checks
    assert f.severity == "error" and f.check == "overfit_tiny"
    assert "cannot overfit 20 examples" in f.message
    assert "2.weight" in f.message                   # names the frozen, all-zero layer
    assert f.figures["accuracy"] < 0.5


def test_lr_finder_restores_model_and_optimizer_and_suggests(fmnist):
    x, y = fmnist
    net = mlp()
    opt = optim.Adam(net.parameters(), lr=1e-3)
    loss = F.cross_entropy(net(ember.tensor(x[:64])), ember.tensor(y[:64]))
    loss.backward()
    opt.step()                                       # some optimizer state to keep
    before = {k: v.data.copy() for k, v in net.state_dict().items()}
    st = opt.state_dict()
    res = dx.lr_find(net, x, y, optimizer=opt, start_lr=1e-6, end_lr=10, num_steps=80)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    assert opt.param_groups[0]["lr"] == 1e-3
    after = opt.state_dict()
    for k, s in st["state"].items():
        for name, v in s.items():
            np.testing.assert_array_equal(after["state"][k][name], v)
    assert res.diverged                              # 10 is far too high for Adam
    assert 1e-5 < res.suggested_lr < 1e-1 and res.suggested_lr == res.min_loss_lr / 10
    assert res.steepest_lr <= res.min_loss_lr
    assert len(res.lrs) == len(res.losses) and res.lrs[0] == 1e-6
    assert res.findings[0].check == "lr_finder"


def test_lr_finder_flags_a_far_too_high_lr(fmnist):
    net = mlp()
    opt = optim.SGD(net.parameters(), lr=50.0)
    doc = dx.Doctor(net, opt, verbose=False)
    res = doc.lr_find(*fmnist, num_steps=60)
    assert any(f.check == "lr_too_high" for f in res.findings)
