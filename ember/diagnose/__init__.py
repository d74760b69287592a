"""ember.diagnose — the training doctor: measures what happens inside a network while it trains
and says what is wrong in plain language (which layer, which figure, why it matters, what to try).

Measurements (zero cost when off; sampled every ``every`` steps when on):
  * per-layer activation statistics through forward hooks: mean, std, fraction of zeros, dead
    ReLU units (0 for every sample of a batch), saturation (|tanh| > 0.99, sigmoid < 0.01 or
    > 0.99), histograms;
  * per-parameter gradient norm/mean/std and the update-to-weight ratio (~1e-3 is healthy);
    vanishing/exploding gradients by depth;
  * a NaN/Inf guard, :func:`detect_anomaly`, naming the first op and layer that produced a
    non-finite value in forward or backward.

Checks: initial loss vs ln(C); activations at initialization (collapse, saturation, explosion,
dead units); "overfit a tiny subset"; during training: loss exploding (> 3x start, or NaN: stop
early), loss barely changing (lr too low), update/weight ratio far from 1e-3, dead units rising,
train/val gap (over/underfitting); a learning-rate range test (:func:`lr_find`).

Example::

    import ember.diagnose as dx

    doctor = dx.Doctor(model, optimizer)                 # every=10 steps by default
    doctor.check_init(x_train[:500], y_train[:500])      # loss vs ln(C), activations at init
    doctor.overfit_tiny(x_train, y_train)                # 20 examples -> 100%? (weights untouched)
    doctor.lr_find(x_train, y_train)                     # LR range test (model/optimizer restored)
    with doctor.watch():
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            doctor.step(loss)
            if doctor.should_stop:                       # loss exploded: stop early
                break
    findings = doctor.report(html="doctor.html")         # text report; HTML with plots

    model.fit(x, y, callbacks=[dx.DoctorCallback()])     # Keras style: prints, stops on explosion

    with dx.detect_anomaly(model):                       # first op producing NaN/Inf, and its layer
        F.cross_entropy(model(x), y).backward()

Command line: ``ember doctor CONFIG.toml`` (or ``python -m ember.diagnose CONFIG.toml``) runs the
checks for an ``ember train`` config without a full training run.

Plots (HTML/PNG) need matplotlib (``pip install matplotlib``); the text report does not.
"""
from .anomaly import AnomalyError, detect_anomaly
from .checks import activation_findings, initial_loss_finding, overfit_tiny
from .doctor import Doctor, DoctorCallback
from .findings import Finding, format_findings
from .lr_finder import LRFinderResult, lr_find
from .stats import ActivationMonitor, ActivationStats, ParamStats, activation_stats, grad_stats

__all__ = ["Doctor", "DoctorCallback", "Finding", "format_findings", "detect_anomaly",
           "AnomalyError", "lr_find", "LRFinderResult", "overfit_tiny", "activation_findings",
           "initial_loss_finding", "ActivationMonitor", "ActivationStats", "ParamStats",
           "activation_stats", "grad_stats", "check_init"]


def check_init(model, x, y=None, loss_fn=None, **kwargs):
    """Findings from one pass at initialization (see :meth:`Doctor.check_init`)."""
    return Doctor(model, loss_fn=loss_fn, verbose=False, **kwargs).check_init(x, y)
