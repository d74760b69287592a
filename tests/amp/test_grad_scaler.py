"""GradScaler against torch.amp.GradScaler: the same scale / skip / growth sequence."""
import numpy as np
import pytest

import ember
from ember.amp import GradScaler
from tests.conftest import torch_or_skip


def _grad_sequence():
    """Per-step gradients for a 2x3 weight: finite, except inf at step 2, NaN at 5 and 6."""
    rng = np.random.default_rng(3)
    gs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(14)]
    gs[2][0, 1] = np.inf
    gs[5][1, 2] = np.nan
    gs[6][0, 0] = -np.inf
    return gs


def test_matches_torch_sequence():
    torch = torch_or_skip()
    w0 = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    tw = torch.nn.Parameter(torch.tensor(w0))
    topt = torch.optim.SGD([tw], lr=0.1, momentum=0.9)
    tsc = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    ew = ember.nn.Parameter(ember.tensor(w0))
    eopt = ember.optim.SGD([ew], lr=0.1, momentum=0.9)
    esc = GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    scales, skipped = [], []
    for g in _grad_sequence():
        # the loss sum(w * g) has gradient g; scaled by the scaler on both sides
        tsc.scale((tw * torch.tensor(g)).sum()).backward()
        esc.scale((ew * ember.tensor(g)).sum()).backward()
        before = ew.detach().numpy().copy()
        tsc.step(topt)
        esc.step(eopt)
        skipped.append(np.array_equal(before, ew.detach().numpy()))
        tsc.update()
        esc.update()
        assert esc.get_scale() == tsc.get_scale()
        np.testing.assert_allclose(ew.detach().numpy(), tw.detach().numpy(), rtol=1e-6,
                                   atol=1e-7)
        scales.append(esc.get_scale())
        topt.zero_grad()
        eopt.zero_grad()
    # the sequence itself: halved on each bad step, doubled after 3 good ones
    assert scales[:11] == [1024, 1024, 512, 512, 512, 256, 128, 128, 128, 256, 256]
    assert skipped[2] and skipped[5] and skipped[6] and not skipped[3]
    assert esc.state_dict() == {k: (float(v) if k == "scale" else v)
                                for k, v in tsc.state_dict().items()}


def test_defaults_are_pytorchs():
    s = GradScaler()
    assert s.get_scale() == 65536.0 and s.get_growth_factor() == 2.0
    assert s.get_backoff_factor() == 0.5 and s.get_growth_interval() == 2000


def test_unscale_then_step_and_double_calls():
    w = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    opt = ember.optim.SGD([w], lr=1.0)
    s = GradScaler(init_scale=8.0)
    s.scale((w * ember.tensor([1.0, -3.0])).sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [8.0, -24.0])
    s.unscale_(opt)
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, -3.0])  # clip_grad_norm_ would go here
    with pytest.raises(RuntimeError, match="already been called"):
        s.unscale_(opt)
    s.step(opt)  # does not unscale twice
    np.testing.assert_array_equal(w.detach().numpy(), [0.0, 5.0])
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        s.step(opt)
    s.update()
    assert s.get_scale() == 8.0


def test_update_without_step_and_state_round_trip():
    s = GradScaler(init_scale=4.0, growth_interval=7)
    with pytest.raises(RuntimeError, match="no inf checks"):
        s.update()
    s.update(new_scale=32.0)
    t = GradScaler()
    t.load_state_dict(s.state_dict())
    assert t.get_scale() == 32.0 and t.get_growth_interval() == 7
    assert GradScaler(enabled=False).state_dict() == {}
    with pytest.raises(RuntimeError, match="empty"):
        t.load_state_dict({})


def test_disabled_is_a_pass_through():
    w = ember.nn.Parameter(ember.tensor([1.0]))
    opt = ember.optim.SGD([w], lr=0.5)
    s = GradScaler(enabled=False)
    loss = (w * 2).sum()
    assert s.scale(loss) is loss
    loss.backward()
    s.step(opt)
    s.update()
    assert w.item() == 0.0 and s.get_scale() == 1.0


def test_refuses_float16_gradients():
    w = ember.nn.Parameter(ember.tensor([1.0], dtype=ember.float16))
    opt = ember.optim.SGD([w], lr=0.5)
    s = GradScaler(init_scale=2.0)
    s.scale(w.sum()).backward()
    with pytest.raises(ValueError, match="FP16"):
        s.step(opt)
