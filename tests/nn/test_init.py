"""Initialisers: sample statistics match the formulas, fans are right for conv kernels, layer
defaults are PyTorch's, and the lectures' 10-layer activation-statistics experiment."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.init as init


def _p(*shape):
    return nn.Parameter(np.zeros(shape, np.float32))


def test_fans_for_linear_and_conv():
    assert init._calculate_fan_in_and_fan_out(_p(30, 20)) == (20, 30)
    assert init._calculate_fan_in_and_fan_out(_p(64, 3, 5, 5)) == (75, 1600)
    conv = nn.Conv2d(8, 12, 3, groups=4)
    assert init._calculate_fan_in_and_fan_out(conv.weight) == (2 * 9, 12 * 9)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(_p(5))


def test_gains():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert math.isclose(init.calculate_gain("leaky_relu", 0.2), math.sqrt(2 / 1.04))
    with pytest.raises(ValueError):
        init.calculate_gain("swishy")


@pytest.mark.parametrize("fn,shape,std", [
    (lambda w: init.xavier_uniform_(w), (400, 600), math.sqrt(2 / 1000)),
    (lambda w: init.xavier_normal_(w, gain=2.0), (400, 600), 2 * math.sqrt(2 / 1000)),
    (lambda w: init.kaiming_normal_(w, nonlinearity="relu"), (500, 400), math.sqrt(2 / 400)),
    (lambda w: init.kaiming_uniform_(w, nonlinearity="relu"), (500, 400), math.sqrt(2 / 400)),
    (lambda w: init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), (500, 400),
     math.sqrt(2 / 500)),
    (lambda w: init.kaiming_normal_(w, nonlinearity="relu"), (64, 32, 3, 3),
     math.sqrt(2 / (32 * 9))),
    (lambda w: init.xavier_uniform_(w), (64, 32, 3, 3), math.sqrt(2 / (32 * 9 + 64 * 9))),
    (lambda w: init.lecun_normal_(w), (300, 500), math.sqrt(1 / 500)),
    (lambda w: init.normal_(w, 0.0, 0.3), (300, 500), 0.3),
    (lambda w: init.uniform_(w, -2, 2), (300, 500), 4 / math.sqrt(12)),
], ids=["xavier_u", "xavier_n_gain", "he_n", "he_u", "he_fan_out", "he_conv", "xavier_conv",
        "lecun", "normal", "uniform"])
def test_sample_std_matches_formula(fn, shape, std):
    w = _p(*shape)
    fn(w)
    assert abs(w.data.std() / std - 1) < 0.02
    assert abs(w.data.mean()) < 0.05 * std


def test_constant_and_orthogonal_and_seeding():
    w = _p(3, 4)
    assert np.all(init.ones_(w).data == 1) and np.all(init.zeros_(w).data == 0)
    assert np.all(init.constant_(w, 0.5).data == 0.5)
    q = init.orthogonal_(_p(6, 4)).data
    assert np.allclose(q.T @ q, np.eye(4), atol=1e-5)
    q = init.orthogonal_(_p(3, 5), gain=2.0).data
    assert np.allclose(q @ q.T, 4 * np.eye(3), atol=1e-5)
    ember.manual_seed(7)
    a = nn.Linear(5, 5).weight.data.copy()
    ember.manual_seed(7)
    assert np.array_equal(a, nn.Linear(5, 5).weight.data)


def test_init_does_not_record_graph():
    w = _p(3, 3)
    init.normal_(w)
    assert w.is_leaf and w.requires_grad and w.grad is None


def test_layer_defaults_are_pytorchs():
    lin = nn.Linear(300, 400)
    bound = 1 / math.sqrt(300)  # kaiming_uniform(a=sqrt 5) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.weight.data).max() > 0.98 * bound
    assert np.abs(lin.bias.data).max() <= bound
    conv = nn.Conv2d(16, 32, 3)
    b = 1 / math.sqrt(16 * 9)
    assert np.abs(conv.weight.data).max() <= b and abs(conv.weight.data.std() - b / math.sqrt(3)) < 0.05 * b
    bn = nn.BatchNorm2d(4)
    assert np.all(bn.weight.data == 1) and np.all(bn.bias.data == 0)
    assert nn.PReLU().weight.data[0] == np.float32(0.25)
    e = nn.Embedding(100, 50).weight.data
    assert abs(e.std() - 1) < 0.05


def _activation_stds(weight_init, act, layers=10, units=500):
    """The lectures' experiment: unit-Gaussian input (1000 x 500), 10 layers of 500 units,
    no biases; std of each layer's activations."""
    ember.manual_seed(0)
    x = ember.randn(1000, units)
    stds = []
    with ember.no_grad():
        for _ in range(layers):
            lin = nn.Linear(units, units, bias=False)
            weight_init(lin.weight)
            x = act(lin(x))
            stds.append(float(x.data.std()))
    return np.array(stds)


def test_tanh_small_weights_collapse():
    s = _activation_stds(lambda w: init.normal_(w, 0, 0.01), ember.tanh)
    # layer 1: std ~ 0.01 * sqrt(500) = 0.22 (tanh ~ linear there), then x0.22 per layer
    assert abs(s[0] - 0.21) < 0.02
    assert np.all(np.diff(s) < 0) and s[-1] < 1e-4


def test_tanh_unit_weights_saturate():
    s = _activation_stds(lambda w: init.normal_(w, 0, 1.0), ember.tanh)
    assert np.all(np.abs(s - 0.98) < 0.01)  # almost all units at +-1: gradients vanish


def test_tanh_xavier_keeps_activations_alive():
    s = _activation_stds(lambda w: init.xavier_normal_(w), ember.tanh)
    # Var w = 1/500 here; measured: 0.63 at layer 1, decaying slowly to ~0.23 at layer 10
    assert abs(s[0] - 0.63) < 0.02
    assert np.all(np.diff(s) < 0) and 0.18 < s[-1] < 0.28


def test_relu_he_constant_xavier_halves():
    he = _activation_stds(lambda w: init.kaiming_normal_(w, nonlinearity="relu"), ember.relu)
    xa = _activation_stds(lambda w: init.xavier_normal_(w), ember.relu)
    # He: E[x^2] is preserved, std of relu(z) with z ~ N(0, 2) is sqrt(2 (1/2 - 1/(2 pi))) = 0.83
    assert np.all(np.abs(he - 0.83) < 0.1)
    # Xavier with relu: each layer halves the variance (std x ~0.71)
    ratios = xa[1:] / xa[:-1]
    assert np.all(np.abs(ratios - 1 / math.sqrt(2)) < 0.07) and xa[-1] < 0.05
