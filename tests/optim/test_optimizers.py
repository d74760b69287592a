"""Each optimizer against PyTorch (same problem, same start, 25 steps), state_dict round trips,
hyperparameter errors, skipped parameters, parameter groups."""
import numpy as np
import pytest

import ember
import ember.io
from ember import optim

from .problem import ember_loss, ember_params, run_ember, run_torch, torch_params

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.005, momentum=0.5, weight_decay=0.1, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.99))),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=1e-2)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.005, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1, alpha=0.9)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, eps=1e-5)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_matches_torch_25_steps(name, kw):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: reference skipped")
    ep = ember_params()
    run_ember(getattr(optim, name)(ep, **kw), ep, 25)
    tp = torch_params(torch)
    run_torch(torch, getattr(torch.optim, name)(tp, **kw), tp, 25)
    from .problem import INIT
    moved = max(np.abs(e.data - a).max() for e, a in zip(ep, INIT))
    assert moved > 1e-3  # the test would catch an optimizer that does nothing
    for e, t in zip(ep, tp):
        np.testing.assert_allclose(e.data, t.detach().numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("RMSprop", dict(lr=0.005))])
def test_matches_torch_float32(name, kw):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: reference skipped")
    ep = ember_params(np.float32)
    run_ember(getattr(optim, name)(ep, **kw), ep, 25, np.float32)
    tp = torch_params(torch, torch.float32)
    run_torch(torch, getattr(torch.optim, name)(tp, **kw), tp, 25)
    for e, t in zip(ep, tp):
        assert e.data.dtype == np.float32
        np.testing.assert_allclose(e.data, t.detach().numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_round_trip_continues_exactly(name, kw, tmp_path):
    full = ember_params()
    run_ember(getattr(optim, name)(full, **kw), full, 25)

    part = ember_params()
    opt = getattr(optim, name)(part, **kw)
    run_ember(opt, part, 12)
    path = tmp_path / "opt.safetensors"
    ember.io.save(opt.state_dict(), path)  # no pickle
    run_ember(opt, part, 3)  # the saved snapshot must not follow later steps
    part2 = ember_params()
    opt0 = getattr(optim, name)(part2, **kw)
    run_ember(opt0, part2, 12)
    fresh = getattr(optim, name)(part2, **kw)
    fresh.load_state_dict(ember.io.load(path))
    run_ember(fresh, part2, 13)
    for a, b in zip(full, part2):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_plain_data():
    ps = ember_params()
    opt = optim.Adam(ps, lr=0.01, amsgrad=True)
    run_ember(opt, ps, 2)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2]
    assert set(sd["state"]) == {"0", "1", "2"}
    assert sd["state"]["0"]["step"] == 2
    assert isinstance(sd["state"]["0"]["exp_avg"], np.ndarray)
    assert sd["state"]["0"]["exp_avg"] is not opt.state[ps[0]]["exp_avg"]


def test_load_state_dict_mismatch_errors():
    ps = ember_params()
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    run_ember(opt, ps, 1)
    sd = opt.state_dict()
    two_groups = optim.SGD([{"params": ps[:1]}, {"params": ps[1:]}], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="parameter groups"):
        two_groups.load_state_dict(sd)
    fewer = optim.SGD(ps[:2], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="group 0 with 3 parameters"):
        fewer.load_state_dict(sd)
    other = [ember.tensor(np.zeros((2, 2)), requires_grad=True) for _ in range(3)]
    with pytest.raises(ValueError, match="shape"):
        optim.SGD(other, lr=0.1, momentum=0.9).load_state_dict(sd)


def test_load_state_dict_restores_hyperparameters():
    ps = ember_params()
    opt = optim.Adam(ps, lr=0.05)
    opt.param_groups[0]["lr"] = 0.007
    fresh = optim.Adam(ember_params(), lr=0.05)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["lr"] == 0.007
    assert fresh.param_groups[0]["params"][0] is not ps[0]


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-0.1), "learning rate"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-1), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1e-4), "weight_decay"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "beta parameter at index 0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "epsilon"),
    (lambda p: optim.Adam(p, lr=float("nan")), "learning rate"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "weight_decay"),
    (lambda p: optim.NAdam(p, momentum_decay=-1), "momentum_decay"),
    (lambda p: optim.RMSprop(p, alpha=1.5), "alpha"),
    (lambda p: optim.RMSprop(p, momentum=-0.5), "momentum"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda p: optim.Adadelta(p, rho=1.1), "rho"),
    (lambda p: optim.LBFGS(p, line_search_fn="backtracking"), "strong_wolfe"),
    (lambda p: optim.LBFGS(p, history_size=0), "history_size"),
    (lambda p: optim.SGD([{"params": p[:1], "lr": -1.0}, {"params": p[1:]}], lr=0.1),
     "learning rate"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make(ember_params())


def test_bad_params():
    ps = ember_params()
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(ps[0], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="ordered"):
        optim.SGD(set(ps), lr=0.1)
    with pytest.raises(ValueError, match="duplicate"):
        optim.SGD([ps[0], ps[0]], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": ps[:2]}, {"params": ps[1:]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([ps[0] * 2], lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad",
                                  "Adadelta"])
def test_params_without_grad_are_skipped(name):
    ps = ember_params()
    frozen = ember.tensor(np.ones(4), requires_grad=True)
    kw = dict(lr=0.1, momentum=0.9) if name == "SGD" else {}
    opt = getattr(optim, name)(ps + [frozen], **kw)
    run_ember(opt, ps, 3)
    assert frozen.grad is None
    np.testing.assert_array_equal(frozen.data, np.ones(4))
    assert frozen not in opt.state
    assert ps[0] in opt.state


def test_param_groups_have_their_own_lr():
    ps = ember_params()
    opt = optim.SGD([{"params": ps[:1], "lr": 0.2}, {"params": ps[1:]}], lr=0.05)
    assert opt.param_groups[1]["lr"] == 0.05
    ember_loss(ps).backward()
    grads = [p.grad.data.copy() for p in ps]
    before = [p.data.copy() for p in ps]
    opt.step()
    np.testing.assert_allclose(ps[0].data, before[0] - 0.2 * grads[0], atol=1e-15)
    np.testing.assert_allclose(ps[1].data, before[1] - 0.05 * grads[1], atol=1e-15)
    np.testing.assert_allclose(ps[2].data, before[2] - 0.05 * grads[2], atol=1e-15)


def test_param_groups_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: reference skipped")
    ep = ember_params()
    eo = optim.Adam([{"params": ep[:2], "lr": 0.03, "weight_decay": 0.1},
                     {"params": ep[2:]}], lr=0.01)
    run_ember(eo, ep, 25)
    tp = torch_params(torch)
    to = torch.optim.Adam([{"params": tp[:2], "lr": 0.03, "weight_decay": 0.1},
                           {"params": tp[2:]}], lr=0.01)
    run_torch(torch, to, tp, 25)
    for e, t in zip(ep, tp):
        np.testing.assert_allclose(e.data, t.detach().numpy(), atol=1e-5, rtol=0)


def test_add_param_group_and_zero_grad():
    ps = ember_params()
    opt = optim.SGD(ps[:2], lr=0.1)
    opt.add_param_group({"params": ps[2], "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": [ps[0]]})
    ember_loss(ps).backward()
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in ps)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_step_closure_returns_loss_and_bumps_version():
    ps = ember_params()
    opt = optim.Adam(ps, lr=0.01)

    def closure():
        opt.zero_grad()
        loss = ember_loss(ps)
        loss.backward()
        return loss

    v0 = ps[0]._version
    with ember.no_grad():  # the closure must still record the graph
        loss = opt.step(closure)
    assert float(loss) == pytest.approx(float(ember_loss(ps).data) + 0, abs=1.0)
    assert ps[0]._version > v0
    assert float(ember_loss(ps).data) < float(loss)


def test_step_allocates_no_state_after_warmup():
    ps = ember_params()
    opt = optim.Adam(ps, lr=0.01, amsgrad=True)
    run_ember(opt, ps, 1)
    bufs = {k: id(v) for k, v in opt.state[ps[0]].items() if isinstance(v, np.ndarray)}
    pool = {k: id(v) for k, v in opt._pool.items()}
    data_ids = [id(p.data) for p in ps]
    run_ember(opt, ps, 3)
    assert {k: id(v) for k, v in opt.state[ps[0]].items() if isinstance(v, np.ndarray)} == bufs
    assert {k: id(v) for k, v in opt._pool.items()} == pool
    assert [id(p.data) for p in ps] == data_ids  # updated in place


def test_replaced_param_data_is_used():
    ps = ember_params()
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    run_ember(opt, ps, 2)
    ps[0].data = np.zeros_like(ps[0].data)
    ember_loss(ps).backward()
    g = ps[0].grad.data.copy()
    buf = opt.state[ps[0]]["momentum_buffer"].copy()
    opt.step()
    np.testing.assert_allclose(ps[0].data, -0.1 * (0.9 * buf + g), atol=1e-15)
