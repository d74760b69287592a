"""Layers, optimizers, fit, a CNN training step and a checkpoint round trip on the test
device, each compared with the same run on the CPU."""
import copy

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.testing.device_check import compare_module, host
from tests.nn.test_layers_vs_torch import CASES as LAYER_CASES
from tests.optim.problem import INIT, X, Y
from tests.optim.test_optimizers import CASES as OPT_CASES, IDS as OPT_IDS


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layer_matches_cpu(case, train, device):
    name, make, _, shape = case
    ember.manual_seed(0)
    m = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    compare_module(m, x, device, train=train)


def test_dropout_draws_the_same_masks_on_device(device):
    compare_module(nn.Dropout(0.3), np.ones((4, 6), np.float32), device, train=True)


def test_embedding_on_device(device):
    ember.manual_seed(0)
    emb = nn.Embedding(5, 3)
    idx = np.array([[0, 4], [2, 2]])
    outs = []
    for dev in ("cpu", device):
        e = copy.deepcopy(emb).to(dev)
        out = e(ember.tensor(idx, device=dev))
        (out * out).sum().backward()
        outs.append((host(out), host(e.weight.grad)))
    np.testing.assert_allclose(outs[1][0], outs[0][0])
    np.testing.assert_allclose(outs[1][1], outs[0][1])


def _run_problem(opt_name, kw, dev, steps=10):
    params = [ember.tensor(a, device=dev, requires_grad=True) for a in INIT]
    opt = getattr(ember.optim, opt_name)(params, **kw)
    x, y = ember.tensor(X, device=dev), ember.tensor(Y, device=dev)
    for _ in range(steps):
        w, b, v = params
        r = (x @ w + b).tanh() @ v - y
        loss = (r * r).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [host(p) for p in params], opt


@pytest.mark.parametrize("name,kw", OPT_CASES, ids=OPT_IDS)
def test_optimizer_matches_cpu(name, kw, device):
    ref, _ = _run_problem(name, kw, "cpu")
    got, opt = _run_problem(name, kw, device)
    for p in opt.param_groups[0]["params"]:
        assert p.device.type == ember.device(device).type
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert max(np.abs(a - i).max() for a, i in zip(got, INIT)) > 1e-3  # it moved


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def test_cnn_training_step_matches_cpu(device):
    x = np.random.default_rng(1).standard_normal((6, 1, 8, 8)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0, 2])
    ember.manual_seed(0)
    base = _cnn()
    results = []
    for dev in ("cpu", device):
        m = copy.deepcopy(base).to(dev)
        opt = ember.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        ember.manual_seed(5)
        for _ in range(2):
            loss = F.cross_entropy(m(ember.tensor(x, device=dev)), ember.tensor(y, device=dev))
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert all(p.device.type == ember.device(dev).type for p in m.parameters())
        results.append((loss.item(), {k: host(v) for k, v in m.state_dict().items()}))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-5)
    for k, v in results[0][1].items():
        np.testing.assert_allclose(results[1][1][k], v, rtol=1e-4, atol=1e-5, err_msg=k)


def test_fit_and_evaluate_on_device(device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    hist = []
    for dev in ("cpu", device):
        ember.manual_seed(0)
        model = ember.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2)).to(dev)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        h = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.25)
        pred = model.predict(x[:4])
        assert isinstance(pred, np.ndarray) and pred.shape == (4, 2)
        hist.append((h.history, model.evaluate(x, y), model.train_on_batch(x[:8], y[:8])))
        assert all(p.device.type == ember.device(dev).type for p in model.parameters())
    for k in hist[0][0]:
        np.testing.assert_allclose(hist[1][0][k], hist[0][0][k], rtol=1e-5, err_msg=k)
    np.testing.assert_allclose(hist[1][1], hist[0][1], rtol=1e-5)
    assert hist[1][2] == pytest.approx(hist[0][2], rel=1e-5)


def test_keras_layers_build_on_the_input_device(device):
    from ember.keras import layers, models
    ember.manual_seed(0)
    model = models.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)]).to(device)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32), epochs=1, verbose=0)
    assert all(p.device.type == ember.device(device).type for p in model.parameters())


def test_checkpoint_round_trip_from_device(device, tmp_path):
    ember.manual_seed(0)
    m = _cnn().to(device)
    opt = ember.optim.Adam(m.parameters(), lr=0.01)
    x = ember.randn(4, 1, 8, 8, device=device)
    F.cross_entropy(m(x), ember.tensor([0, 1, 2, 0], device=device)).backward()
    opt.step()
    ember.save({"model": m.state_dict(), "opt": opt.state_dict()}, tmp_path / "ck")
    # loads on the host by default ...
    ck = ember.load(tmp_path / "ck")
    assert all(t.device.type == "cpu" for t in ck["model"].values())
    # ... or where map_location says, and into a model on the device
    ck_dev = ember.load(tmp_path / "ck", map_location=device)
    assert all(t.device.type == ember.device(device).type for t in ck_dev["model"].values())
    ember.manual_seed(1)
    m2 = _cnn().to(device)
    m2.load_state_dict(ck["model"])  # copy_ moves host values onto the device parameters
    opt2 = ember.optim.Adam(m2.parameters(), lr=0.01)
    opt2.load_state_dict(ck["opt"])
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        assert b.device.type == ember.device(device).type
        np.testing.assert_array_equal(host(a), host(b), err_msg=k)
    m.eval()
    m2.eval()
    np.testing.assert_array_equal(host(m(x)), host(m2(x)))
    for s1, s2 in zip(opt.state.values(), opt2.state.values()):
        np.testing.assert_array_equal(host(s1["exp_avg"]), host(s2["exp_avg"]))


def _lbfgs_run(dev):
    params = [ember.tensor(a, device=dev, requires_grad=True) for a in INIT]
    opt = ember.optim.LBFGS(params, lr=0.5, max_iter=5, line_search_fn="strong_wolfe")
    x, y = ember.tensor(X, device=dev), ember.tensor(Y, device=dev)

    def closure():
        opt.zero_grad()
        w, b, v = params
        r = (x @ w + b).tanh() @ v - y
        loss = (r * r).mean()
        loss.backward()
        return loss
    for _ in range(2):
        opt.step(closure)
    opt.load_state_dict(opt.state_dict())  # state goes back onto the device
    opt.step(closure)
    return [host(p) for p in params]


def test_lbfgs_matches_cpu(device):
    for a, b in zip(_lbfgs_run(device), _lbfgs_run("cpu")):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_parameter_averaging_on_device(device):
    from ember.optim.averaging import ExponentialMovingAverage
    outs = []
    for dev in ("cpu", device):
        ember.manual_seed(0)
        m = nn.Linear(3, 2).to(dev)
        ema = ExponentialMovingAverage(m, decay=0.5)
        opt = ember.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            m(ember.ones(4, 3, device=dev)).sum().backward()
            opt.step()
            ema.update()
        with ema.average_parameters():
            outs.append(host(m.weight))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6)


def test_summary_of_a_model_on_device(device, capsys):
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).to(device)
    info = ember.summary(m, (4,))
    assert "Linear-1" in capsys.readouterr().out and info is not None
    assert all(p.device.type == ember.device(device).type for p in m.parameters())


def test_model_save_load_resume_on_device(device, tmp_path):
    x = np.random.default_rng(0).standard_normal((32, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def make():
        ember.manual_seed(0)
        m = ember.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2)).to(device)
        m.compile(optimizer="adam", loss="cross_entropy")
        return m
    a = make()
    a.fit(x, y, epochs=2, verbose=0)
    a.save(tmp_path / "m")
    b = make()
    b.load(tmp_path / "m")  # weights and Adam state land on the device
    for m in (a, b):
        m.fit(x, y, epochs=3, initial_epoch=2, verbose=0)
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert q.device.type == ember.device(device).type
        np.testing.assert_array_equal(host(p), host(q), err_msg=k)
