"""Doctor fixes from issue 9: watch() + report() on bare forward passes, overfit_tiny's return
type, the progress line after an early stop, the initializer formulas in the advice."""
import io
import contextlib
import math

import numpy as np

import ember
import ember.diagnose as dx
import ember.nn as nn
from ember import optim

from .conftest import deep_net, mlp


def test_watch_then_report_covers_the_activations_it_saw():
    ember.manual_seed(0)
    net = mlp()
    doctor = dx.Doctor(net, verbose=False)
    x = ember.tensor(np.random.default_rng(0).standard_normal((64, 784)).astype(np.float32))
    with doctor.watch():
        net(x)
    found = doctor.report(print_report=False)
    text = dx.format_findings(found)
    assert "no checks ran" not in text
    act = [f for f in found if f.check == "activations"]
    assert act and "in the watched forward pass" in act[0].message
    assert len(act[0].figures["std"]) == len(doctor.monitor.labels)


def test_overfit_tiny_returns_a_list_of_findings_that_formats(fmnist):
    net = mlp()
    found = dx.Doctor(net, verbose=False).overfit_tiny(*fmnist, steps=5)
    assert isinstance(found, list) and found[0].check == "overfit_tiny"
    assert "overfit_tiny" in dx.format_findings(found)


def test_progress_line_after_the_doctor_stops_shows_where(fmnist):
    x, y = fmnist
    ember.manual_seed(0)
    net = mlp()
    model = ember.Model(net)
    model.compile(optimizer=optim.RMSprop(net.parameters(), lr=1e6), loss="cross_entropy")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x, y, batch_size=32, epochs=2, verbose=2,
                      callbacks=[dx.DoctorCallback(report=False, verbose=False)])
    steps = math.ceil(len(x) / 32)
    line = [l for l in out.getvalue().splitlines() if f"/{steps} [" in l]
    assert line and not line[0].startswith(f"{steps}/{steps}"), out.getvalue()
    assert "stopped at step" in line[0]


def test_xavier_advice_states_xavier_formula():
    x = np.random.default_rng(1).standard_normal((200, 500)).astype(np.float32)
    f = next(f for f in dx.check_init(deep_net(nn.Tanh, 0.01), x) if "Xavier" in f.suggestion)
    assert "xavier_normal_" in f.suggestion and "sqrt(2 / (fan_in + fan_out))" in f.suggestion
    assert "1/sqrt(fan_in)" not in f.suggestion
    # the ReLU note names 1/sqrt(fan_in) as LeCun's, not as Xavier's
    g = next(f for f in dx.check_init(deep_net(nn.ReLU, 1 / math.sqrt(500)), x)
             if f.check == "shrinking_activations")
    assert "i.e. Xavier" not in g.message and "LeCun" in g.message
