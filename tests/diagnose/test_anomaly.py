"""The NaN/Inf guard names the first op and the layer it ran in, and leaves nothing behind."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.diagnose as dx
from ember.autograd.function import Function
from ember.nn.module import Module


class LogHead(nn.Module):
    """A custom module with a bug: log of a value that can be negative."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x).log()


class SafeSqrt(nn.Module):
    def forward(self, x):
        return (x * 0).sqrt()        # finite forward (0), infinite gradient


def x_batch():
    return ember.tensor(np.random.default_rng(0).standard_normal((16, 6)).astype(np.float32))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_forward_nan_names_op_and_layer():
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), LogHead())
    with pytest.raises(dx.AnomalyError) as e:
        with dx.detect_anomaly(model):
            model(x_batch()).sum().backward()
    f = e.value.finding
    assert f.figures["op"] == "Log" and f.figures["phase"] == "forward"
    assert f.layer == "2 (LogHead)"                  # the log runs in LogHead.forward
    assert "op Log" in str(e.value) and "NaN" in str(e.value) and "negative" in f.suggestion


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_without_a_model_layers_are_named_by_class():
    model = nn.Sequential(nn.Linear(6, 8), LogHead())
    with pytest.raises(dx.AnomalyError, match="op Log in layer 'LogHead'"):
        with dx.detect_anomaly():
            model(x_batch())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_backward_inf_names_op_and_layer():
    model = nn.Sequential(nn.Linear(6, 8), SafeSqrt())
    with dx.detect_anomaly(model):
        out = model(x_batch()).sum()                 # forward is finite: no error yet
        with pytest.raises(dx.AnomalyError) as e:
            out.backward()
    f = e.value.finding
    assert f.figures == {"op": "Sqrt", "phase": "backward", "count": 128, "input": 0}
    assert f.layer == "1 (SafeSqrt)" and "backward" in f.message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_record_mode_keeps_first_anomaly_and_continues():
    model = nn.Sequential(nn.Linear(6, 8), LogHead())
    with dx.detect_anomaly(model, raise_error=False) as guard:
        y = model(x_batch())
        (y * 2).sum()                                # NaN propagates: not a new anomaly
    assert guard.finding.figures["op"] == "Log"
    assert np.isnan(y.data).any()


def test_no_false_alarm_and_everything_restored():
    apply, call = Function.__dict__["apply"], Module.__dict__["__call__"]
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x = x_batch()
    with dx.detect_anomaly(model) as guard:
        loss = F.cross_entropy(model(x), ember.tensor(np.array([0, 1, 2] * 5 + [0])))
        loss.backward()
    assert guard.finding is None
    g = model[0].weight.grad.data.copy()
    model.zero_grad()
    F.cross_entropy(model(x), ember.tensor(np.array([0, 1, 2] * 5 + [0]))).backward()
    np.testing.assert_allclose(model[0].weight.grad.data, g)   # same gradients as unguarded
    assert Function.__dict__["apply"] is apply and Module.__dict__["__call__"] is call
    with pytest.raises(ValueError):                  # restored after an exception too
        with dx.detect_anomaly():
            raise ValueError
    assert Function.__dict__["apply"] is apply and Module.__dict__["__call__"] is call


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_in_the_data_is_not_blamed_on_an_op():
    # Expectation changed (issue 9): NaN already in the data used to be ignored (finding None);
    # now the data is blamed: the first op that received it, phase "input", never the op.
    model = nn.Sequential(nn.Linear(6, 8))
    x = x_batch()
    x.data[0, 0] = np.nan
    with dx.detect_anomaly(model, raise_error=False) as guard:
        model(x)
    f = guard.finding
    assert f.figures == {"op": "Linear", "phase": "input", "count": 1, "input": 0}
    assert f.layer == "0 (Linear)" and "input data" in f.message and "produced NaN" not in f.message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_inf_in_the_data_blames_the_data_not_the_loss_backward():
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x = x_batch()
    x.data[3, 2] = np.inf
    y = ember.tensor(np.arange(16) % 3)
    with pytest.raises(dx.AnomalyError) as e:
        with dx.detect_anomaly(model):
            F.cross_entropy(model(x), y).backward()
    f = e.value.finding
    assert f.figures["phase"] == "input" and f.figures["op"] == "Linear"
    assert f.layer == "0 (Linear)" and "Inf" in f.message and "input data" in f.message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_cleaned_by_an_op_is_not_an_anomaly():
    x = x_batch()
    x.data[0, 0] = np.nan
    with dx.detect_anomaly() as guard:
        clean = ember.where(x.isnan(), 0.0, x)           # the NaN does not reach the output
        (clean * 2).sum()
    assert guard.finding is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_two_nested_guards_both_see_the_op_and_nothing_is_patched():
    apply, call = Function.__dict__["apply"], Module.__dict__["__call__"]
    model = nn.Sequential(nn.Linear(6, 8), LogHead())
    with dx.detect_anomaly(raise_error=False) as outer:
        with dx.detect_anomaly(model, raise_error=False) as inner:
            assert Function.__dict__["apply"] is apply and Module.__dict__["__call__"] is call
            model(x_batch())
    for g, layer in ((inner, "1 (LogHead)"), (outer, "LogHead")):   # each its own naming
        assert g.finding.figures["op"] == "Log" and g.finding.layer == layer
    assert ember.dispatch.current_modes() == ()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nested_guards_both_check_backward():
    model = nn.Sequential(nn.Linear(6, 8), SafeSqrt())
    with dx.detect_anomaly(raise_error=False) as outer:
        with dx.detect_anomaly(model, raise_error=False) as inner:
            model(x_batch()).sum().backward()
    assert inner.finding.figures == outer.finding.figures == {
        "op": "Sqrt", "phase": "backward", "count": 128, "input": 0}
    assert inner.finding.layer == "1 (SafeSqrt)" and outer.finding.layer == "SafeSqrt"


class CountOps(ember.dispatch.DispatchMode):
    def __init__(self):
        self.names = []

    def __ember_dispatch__(self, op, inputs, attrs):
        self.names.append(op.__name__)
        return op.apply(*inputs, **attrs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("guard_inside", [True, False])
def test_guard_plus_a_user_mode(guard_inside):
    model = nn.Sequential(nn.Linear(6, 8), LogHead())
    counter = CountOps()
    guard = dx.detect_anomaly(model)
    first, second = (counter, guard) if guard_inside else (guard, counter)
    with pytest.raises(dx.AnomalyError, match="op Log in layer '1 \\(LogHead\\)'"):
        with first, second:
            model(x_batch())
    assert counter.names == ["Linear", "Linear", "Log"]   # the user mode saw every call
    assert ember.dispatch.current_modes() == ()
