"""Checks at initialization: the lectures' 10-layer experiment, dead ReLUs, initial loss."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.diagnose as dx
from ember.diagnose.stats import activation_stats

from .conftest import deep_net

X = np.random.default_rng(1).standard_normal((500, 500)).astype(np.float32)  # unit Gaussian


def problems(findings):
    return {f.check for f in findings if f.is_problem}


@pytest.mark.parametrize("act,std,expected", [
    (nn.Tanh, 0.01, {"vanishing_activations"}),
    (nn.Tanh, 1.0, {"saturation"}),
    (nn.Tanh, 1 / math.sqrt(500), set()),          # Xavier
    (nn.ReLU, 1 / math.sqrt(500), {"shrinking_activations"}),  # Xavier with ReLU
    (nn.ReLU, math.sqrt(2 / 500), set()),          # He
], ids=["tanh-0.01", "tanh-1.0", "tanh-xavier", "relu-xavier", "relu-he"])
def test_lecture_experiment(act, std, expected):
    found = dx.check_init(deep_net(act, std), X)
    assert problems(found) == expected, dx.format_findings(found)
    if not expected:
        assert any(f.severity == "ok" and f.check == "activations" for f in found)


def test_vanishing_message_names_layers_figures_and_fix():
    found = dx.check_init(deep_net(nn.Tanh, 0.01), X)
    f = next(f for f in found if f.check == "vanishing_activations")
    assert f.severity == "error"
    assert f.layer == "19 (Tanh)"                       # the last tanh of the Sequential
    assert "0.21" in f.message and "10-layer Tanh" in f.message
    assert "Xavier" in f.suggestion
    stds = list(f.figures["std"].values())
    assert len(stds) == 10 and stds[0] == pytest.approx(0.21, abs=0.02) and stds[-1] < 1e-5


def test_relu_advice_is_he():
    found = dx.check_init(deep_net(nn.ReLU, 1 / math.sqrt(500)), X)
    f = next(f for f in found if f.check == "shrinking_activations")
    assert "He initialization" in f.suggestion
    assert f.figures["ratio"] == pytest.approx(0.707 ** 9, rel=0.5)


def test_exploding_activations():
    found = dx.check_init(deep_net(nn.ReLU, 0.2, depth=5), X)
    assert "exploding_activations" in problems(found)


def test_dead_relu_from_negative_bias_names_the_layer():
    net = nn.Sequential(nn.Linear(20, 50), nn.ReLU(), nn.Linear(50, 50), nn.ReLU(),
                        nn.Linear(50, 3))
    with ember.no_grad():
        net[2].bias.data[...] = -10.0
    x = np.random.default_rng(0).standard_normal((256, 20)).astype(np.float32)
    y = np.random.default_rng(0).integers(0, 3, 256)
    found = net_findings = dx.Doctor(net, verbose=False).check_init(x, y)
    dead = [f for f in net_findings if f.check == "dead_units"]
    assert [f.layer for f in dead] == ["3 (ReLU)"], dx.format_findings(found)
    assert dead[0].figures["dead_frac"] == 1.0 and dead[0].severity == "error"
    assert "bias" in dead[0].suggestion


def test_dead_units_reported_during_training():
    net = nn.Sequential(nn.Linear(20, 50), nn.ReLU(), nn.Linear(50, 3))
    with ember.no_grad():
        net[0].bias.data[...] = -10.0
    opt = ember.optim.SGD(net.parameters(), lr=0.01)
    doc = dx.Doctor(net, opt, every=5, verbose=False)
    rng = np.random.default_rng(0)
    with doc.watch():
        for _ in range(12):
            x = ember.tensor(rng.standard_normal((32, 20)).astype(np.float32))
            y = ember.tensor(rng.integers(0, 3, 32))
            loss = nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            doc.step(loss)
    dead = [f for f in doc.report(print_report=False) if f.check == "dead_units"]
    assert dead and dead[0].layer == "1 (ReLU)"


def test_initial_loss_vs_chance():
    f = dx.initial_loss_finding(2.31, 10)
    assert f.severity == "ok" and "2.303" in f.message
    f = dx.initial_loss_finding(9.9, 10)
    assert f.severity == "warning" and "ln(10)" in f.message
    assert dx.initial_loss_finding(0.3, 10).severity == "warning"
    assert dx.initial_loss_finding(float("nan"), 10).severity == "error"


def test_initial_loss_too_high_for_large_last_layer():
    net = nn.Sequential(nn.Linear(30, 40), nn.ReLU(), nn.Linear(40, 10))
    with ember.no_grad():
        net[2].weight.data *= 50
    x = np.random.default_rng(0).standard_normal((200, 30)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 10, 200)
    found = dx.Doctor(net, verbose=False).check_init(x, y)
    assert any(f.check == "initial_loss" and f.severity == "warning" for f in found)
    # a default-initialized net is at chance
    found = dx.Doctor(nn.Sequential(nn.Linear(30, 40), nn.ReLU(), nn.Linear(40, 10)),
                      verbose=False).check_init(x, y)
    assert any(f.check == "initial_loss" and f.severity == "ok" for f in found)


def test_check_init_leaves_grads_and_hooks_alone():
    net = nn.Sequential(nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 2))
    x = np.ones((4, 5), np.float32)
    dx.check_init(net, x, np.array([0, 1, 0, 1]))
    assert all(p.grad is None for p in net.parameters())
    assert all(not m._forward_hooks for m in net.modules())


def test_activation_stats_figures():
    a = np.array([[0, 1, 0.0], [0, 2, 3.0]], np.float32)
    s = activation_stats(a, "l", "ReLU")
    assert s.dead_frac == pytest.approx(1 / 3)      # only unit 0 is 0 for every sample
    assert s.zero_frac == pytest.approx(3 / 6)
    assert s.sat_frac is None and s.mean == pytest.approx(1.0)
    t = activation_stats(np.array([[0.995, -0.999, 0.5, 0.0]]), "t", "Tanh")
    assert t.sat_frac == pytest.approx(0.5)
    sg = activation_stats(np.array([[0.005, 0.5, 0.995, 0.6]]), "s", "Sigmoid")
    assert sg.sat_frac == pytest.approx(0.5)
    assert sum(t.hist[0]) == 4


def test_keras_probability_loss_on_logits_is_caught():
    net = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))
    model = ember.Model(net)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((64, 12)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 4, 64)
    found = dx.Doctor(model, verbose=False).check_init(x, y)
    f = next(f for f in found if f.check == "loss_input")
    assert f.severity == "error" and "cross_entropy" in f.suggestion
    model.compile(optimizer="rmsprop", loss="cross_entropy")
    found = dx.Doctor(model, verbose=False).check_init(x, y)
    assert not [f for f in found if f.check == "loss_input"]
