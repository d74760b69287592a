"""Each learning-rate schedule against PyTorch's sequence (two parameter groups)."""
import math

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import lr_scheduler as ls

STEPS = 40


def _ember_opt(kind="SGD"):
    a = ember.tensor(np.zeros(2), requires_grad=True)
    b = ember.tensor(np.zeros(3), requires_grad=True)
    if kind == "Adam":
        return optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1)
    return optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1, momentum=0.9)


def _torch_opt(torch, kind="SGD"):
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    if kind == "Adam":
        return torch.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1)
    return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1, momentum=0.9)


def _sequence(opt, sched, steps=STEPS, metrics=None, key=None):
    out = []
    for i in range(steps):
        opt.step()
        if metrics is not None:
            sched.step(metrics[i])
        else:
            sched.step()
        lrs = [g["lr"] for g in opt.param_groups]
        assert list(sched.get_last_lr()) == lrs
        if key == "momentum":
            lrs += [g["momentum"] for g in opt.param_groups]
        elif key == "betas":
            lrs += [g["betas"][0] for g in opt.param_groups]
        out.append(lrs)
    return np.array(out)


CASES = {
    "StepLR": (lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), {}),
    "MultiStepLR": (lambda m, o: m.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.3), {}),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, gamma=0.9), {}),
    "CosineAnnealingLR": (lambda m, o: m.CosineAnnealingLR(o, T_max=15, eta_min=0.01), {}),
    "LinearLR": (lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=1.0,
                                         total_iters=10), {}),
    "LinearLR-decay": (lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2,
                                               total_iters=12), {}),
    "ConstantLR": (lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4), {}),
    "PolynomialLR": (lambda m, o: m.PolynomialLR(o, total_iters=30, power=2.0), {}),
    "LambdaLR": (lambda m, o: m.LambdaLR(o, [lambda t: 0.95 ** t, lambda t: 1 / (1 + t)]), {}),
    "MultiplicativeLR": (lambda m, o: m.MultiplicativeLR(o, lambda t: 0.97), {}),
    "SequentialLR-warmup-cosine": (lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.01, total_iters=5),
            m.CosineAnnealingLR(o, T_max=30, eta_min=1e-4)], milestones=[5]), {}),
    "SequentialLR-3": (lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.2, total_iters=3), m.ExponentialLR(o, gamma=0.9),
            m.StepLR(o, step_size=4, gamma=0.5)], milestones=[6, 20]), {}),
    "OneCycleLR-cos": (lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=STEPS),
                       {"key": "momentum"}),
    "OneCycleLR-linear-3phase": (lambda m, o: m.OneCycleLR(
        o, max_lr=0.5, epochs=4, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, div_factor=10.0, final_div_factor=100.0), {"key": "momentum"}),
    "OneCycleLR-adam": (lambda m, o: m.OneCycleLR(o, max_lr=0.01, total_steps=STEPS,
                                                  base_momentum=0.8, max_momentum=0.9),
                        {"key": "betas", "kind": "Adam"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: reference skipped")
    make, opts = CASES[name]
    kind = opts.get("kind", "SGD")
    eo = _ember_opt(kind)
    es = make(ls, eo)
    to = _torch_opt(torch, kind)
    ts = make(torch.optim.lr_scheduler, to)
    first = [g["lr"] for g in eo.param_groups]
    np.testing.assert_allclose(first, [g["lr"] for g in to.param_groups], rtol=0, atol=1e-12)
    e = _sequence(eo, es, key=opts.get("key"))
    t = _sequence(to, ts, key=opts.get("key"))
    assert np.ptp(e[:, 0]) > 0  # the schedule changes the lr
    np.testing.assert_allclose(e, t, rtol=0, atol=1e-10)


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: reference skipped")
    metric = [1.0, 0.9, 0.9, 0.91, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7999, 0.5, 0.6,
              0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    for kw in [dict(patience=2), dict(patience=1, cooldown=2, factor=0.5, min_lr=[0.02, 0.0]),
               dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs"),
               dict(patience=0, threshold=0.1, min_lr=0.05)]:
        eo, to = _ember_opt(), _torch_opt(torch)
        e = _sequence(eo, ls.ReduceLROnPlateau(eo, **kw), len(metric), metric)
        t = _sequence(to, torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw), len(metric),
                      metric)
        assert len(np.unique(e[:, 0])) > 1
        np.testing.assert_allclose(e, t, rtol=0, atol=1e-12)


def test_inverse_time_equals_lambda():
    k = 0.3
    eo1, eo2 = _ember_opt(), _ember_opt()
    e = _sequence(eo1, ls.InverseTimeLR(eo1, decay_rate=k))
    l = _sequence(eo2, ls.LambdaLR(eo2, lambda t: 1 / (1 + k * t)))
    np.testing.assert_allclose(e, l, rtol=1e-15)
    np.testing.assert_allclose(e[:, 0], [0.1 / (1 + k * t) for t in range(1, STEPS + 1)],
                               rtol=1e-14)
    eo3 = _ember_opt()
    s = _sequence(eo3, ls.InverseTimeLR(eo3, decay_rate=1.0, decay_steps=10, staircase=True))
    assert s[8, 0] == 0.1 and s[9, 0] == pytest.approx(0.05)


def test_closed_form_and_lr_at():
    eo = _ember_opt()
    s = ls.CosineAnnealingLR(eo, T_max=20, eta_min=0.0)
    assert s.lr_at(10) == pytest.approx(0.05)
    seq = _sequence(eo, s, 20)
    np.testing.assert_allclose(seq[:, 0], [s.lr_at(t) for t in range(1, 21)], atol=1e-12)


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "SequentialLR-warmup-cosine",
                                  "OneCycleLR-cos", "MultiStepLR", "LambdaLR"])
def test_scheduler_state_dict_round_trip(name, tmp_path):
    import ember.io
    make, opts = CASES[name]
    o1 = _ember_opt()
    full = _sequence(o1, make(ls, o1), 30, key=opts.get("key"))
    o2 = _ember_opt()
    s2 = make(ls, o2)
    first = _sequence(o2, s2, 12, key=opts.get("key"))
    ember.io.save({"opt": o2.state_dict(), "sched": s2.state_dict()}, tmp_path / "s.st")
    ck = ember.io.load(tmp_path / "s.st")
    o3 = _ember_opt()
    s3 = make(ls, o3)
    o3.load_state_dict(ck["opt"])
    s3.load_state_dict(ck["sched"])
    rest = _sequence(o3, s3, 18, key=opts.get("key"))
    np.testing.assert_allclose(np.vstack([first, rest]), full, rtol=0, atol=1e-15)


def test_scheduler_errors():
    eo = _ember_opt()
    with pytest.raises(TypeError, match="Optimizer"):
        ls.StepLR(object(), step_size=3)
    with pytest.raises(ValueError, match="Factor"):
        ls.ReduceLROnPlateau(eo, factor=1.5)
    with pytest.raises(ValueError, match="total_steps"):
        ls.OneCycleLR(eo, max_lr=0.1)
    with pytest.raises(ValueError, match="milestones"):
        ls.SequentialLR(eo, [ls.ExponentialLR(eo, 0.9), ls.ExponentialLR(eo, 0.9)], [])
    with pytest.raises(KeyError, match="initial_lr"):
        ls.StepLR(_ember_opt(), step_size=3, last_epoch=5)
    s = ls.OneCycleLR(eo, max_lr=0.1, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="Tried to step"):
        s.step()
    assert math.isfinite(eo.param_groups[0]["lr"])
