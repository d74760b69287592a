"""L-BFGS: Rosenbrock with the strong-Wolfe line search, and PyTorch's trajectory."""
import numpy as np
import pytest

import ember
from ember import optim


def rosenbrock(xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _closure(opt, xy, losses=None):
    def closure():
        opt.zero_grad()
        loss = rosenbrock(xy)
        loss.backward()
        if losses is not None:
            losses.append(float(loss.data))
        return loss
    return closure


def test_rosenbrock_strong_wolfe_reaches_minimum():
    xy = ember.tensor(np.array([-1.5, 2.0]), requires_grad=True)
    opt = optim.LBFGS([xy], lr=1, max_iter=200, line_search_fn="strong_wolfe",
                      tolerance_grad=1e-12, tolerance_change=1e-14)
    losses = []
    opt.step(_closure(opt, xy, losses))
    np.testing.assert_allclose(xy.data, [1.0, 1.0], atol=1e-5)
    assert losses[0] > 1.0 and losses[-1] < 1e-10
    state = opt.state[xy]
    assert state["n_iter"] < 100 and state["func_evals"] == len(losses)


def test_rosenbrock_matches_torch_trajectory():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: reference skipped")
    xy = ember.tensor(np.array([-1.5, 2.0]), requires_grad=True)
    opt = optim.LBFGS([xy], lr=1, max_iter=5, line_search_fn="strong_wolfe")
    txy = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.LBFGS([txy], lr=1, max_iter=5, line_search_fn="strong_wolfe")

    def tclosure():
        topt.zero_grad()
        loss = rosenbrock(txy)
        loss.backward()
        return loss

    for _ in range(6):  # 30 iterations, in 6 calls: the state carries over between calls
        opt.step(_closure(opt, xy))
        topt.step(tclosure)
        np.testing.assert_allclose(xy.data, txy.detach().numpy(), atol=1e-6)
    assert opt.state[xy]["func_evals"] == topt.state[txy]["func_evals"]


def test_fixed_step_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: reference skipped")
    from .problem import ember_loss, ember_params, torch_loss, torch_params
    ep = ember_params()
    eo = optim.LBFGS(ep, lr=0.5, max_iter=10, history_size=4)
    tp = torch_params(torch)
    to = torch.optim.LBFGS(tp, lr=0.5, max_iter=10, history_size=4)

    def ec():
        eo.zero_grad()
        loss = ember_loss(ep)
        loss.backward()
        return loss

    def tc():
        to.zero_grad()
        loss = torch_loss(torch, tp)
        loss.backward()
        return loss

    for _ in range(3):
        l_e = float(eo.step(ec).data)
        l_t = float(to.step(tc).detach())
        assert l_e == pytest.approx(l_t, abs=1e-8)
    for e, t in zip(ep, tp):
        np.testing.assert_allclose(e.data, t.detach().numpy(), atol=1e-6)


def test_lbfgs_requires_closure_and_one_group():
    xy = ember.tensor(np.array([0.0, 0.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS([xy]).step()
    other = ember.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [xy]}, {"params": [other]}])


def test_lbfgs_state_dict_round_trip(tmp_path):
    import ember.io
    a = ember.tensor(np.array([-1.5, 2.0]), requires_grad=True)
    oa = optim.LBFGS([a], max_iter=4, line_search_fn="strong_wolfe")
    for _ in range(4):
        oa.step(_closure(oa, a))
    b = ember.tensor(np.array([-1.5, 2.0]), requires_grad=True)
    ob = optim.LBFGS([b], max_iter=4, line_search_fn="strong_wolfe")
    for _ in range(2):
        ob.step(_closure(ob, b))
    ember.io.save(ob.state_dict(), tmp_path / "lbfgs.safetensors")
    oc = optim.LBFGS([b], max_iter=4, line_search_fn="strong_wolfe")
    oc.load_state_dict(ember.io.load(tmp_path / "lbfgs.safetensors"))
    for _ in range(2):
        oc.step(_closure(oc, b))
    np.testing.assert_array_equal(a.data, b.data)
