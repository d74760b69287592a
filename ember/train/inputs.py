"""Checks of training inputs, run before anything changes (weights, optimizer state, batch-norm
running statistics).

When they run: arrays given to ``fit``/``evaluate`` are scanned whole once, up front (NaN/Inf,
label range and format over every sample); a ``Dataset`` or ``DataLoader`` is checked batch by
batch, each batch before its own step (iterating it twice would redraw its shuffling and
augmentation). A bad batch stops training with :class:`InputError`, whose ``finding`` names the
epoch and batch.
"""
import numpy as np

from . import losses as _losses


class InputError(ValueError):
    """A training input is malformed (NaN, labels out of range, wrong label format). ``finding``
    is the :class:`ember.diagnose.Finding` describing it (check ``"training_input"``)."""

    def __init__(self, message, finding=None):
        super().__init__(message)
        self.finding = finding


def _fail(message, step=None, suggestion=""):
    from ..diagnose.findings import Finding
    f = Finding("error", "training_input", message, suggestion=suggestion, step=step)
    raise InputError(message + (f"; {suggestion}" if suggestion else ""), f)


def as_array(v):
    """A host NumPy array of ``v`` (a Tensor on any device, an array, a list): the checks read
    values on the host."""
    from ..backend import to_host
    data = getattr(v, "data", None)
    if isinstance(data, np.ndarray):
        return data
    if data is not None and hasattr(data, "shape"):
        return np.asarray(to_host(data))
    return np.asarray(to_host(v)) if hasattr(v, "shape") and not isinstance(v, np.ndarray) \
        else np.asarray(v)


def check_finite(a, what, step=None):
    """No NaN/Inf in a float array."""
    if a.dtype.kind not in "fc":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = a.sum()  # one pass, no temporary: a finite sum means no NaN/Inf anywhere
    if np.isfinite(total):
        return
    if not np.isfinite(a).all():  # NaN/Inf present, or the sum overflowed: the exact test
        bad = int((~np.isfinite(a)).sum())
        _fail(f"{what} contains {bad} NaN or infinite value(s)", step,
              "clean or impute them before training (a NaN input makes every weight NaN)")


def check_targets(loss_name, y, out_shape, where, step=None):
    """Labels fit the loss and the model's output of shape ``out_shape``: class indices 0..C-1
    for sparse losses (a -1 is an error, not the last class), one-hot rows of width C for
    categorical ones, 0/1 for binary ones."""
    y = as_array(y)
    out_shape = tuple(out_shape)
    if len(out_shape) < 2:
        return
    n_samples = out_shape[0]
    # PyTorch-style losses put classes on dim 1 of (N, C, ...) outputs, Keras's on the last dim
    n_outputs = out_shape[1] if loss_name in ("cross_entropy", "hinge", "multi_margin") \
        else out_shape[-1]
    try:
        if loss_name in _losses.SPARSE and len(out_shape) > 2:
            _losses.check_class_labels(loss_name, y, n_outputs, where=f" in {where}")
        elif loss_name in _losses.SPARSE:
            if y.ndim >= 2 and y.shape[-1] == n_outputs and n_outputs > 1 and \
                    y.shape[0] == n_samples:
                _fail(f"loss {loss_name!r} expects class indices of shape ({n_samples},), but "
                      f"{where} holds one-hot rows of shape {y.shape}", step,
                      "use loss='categorical_crossentropy', or y.argmax(-1)")
            if y.size != n_samples:
                _fail(f"loss {loss_name!r} expects one class index per sample ({n_samples}), "
                      f"but {where} holds labels of shape {y.shape}", step)
            _losses.check_class_labels(loss_name, y, n_outputs, where=f" in {where}")
        elif loss_name in _losses.ONE_HOT:
            if y.shape != out_shape:
                _fail(f"loss {loss_name!r} expects one-hot targets of shape "
                      f"{out_shape}, but {where} holds shape {y.shape}", step,
                      "use ember.data.to_categorical(y, num_classes), or "
                      "loss='sparse_categorical_crossentropy' for class indices")
        elif loss_name == "binary_crossentropy":
            _losses.check_binary_labels(loss_name, y, where=f" in {where}")
    except InputError:
        raise
    except ValueError as e:
        _fail(str(e), step)


def check_batch_size(batch_size, what="fit"):
    """A positive int (2.7, "16" and True are errors, not silently converted)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
            batch_size < 1:
        raise ValueError(f"{what}: batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


def looks_like_logits(loss_name, out):
    """True when a probability loss receives values no softmax / sigmoid gives."""
    o = as_array(out)
    if not o.size or o.dtype.kind != "f" or not np.isfinite(o).all():
        return False
    if loss_name == "binary_crossentropy":
        return bool(o.min() < 0 or o.max() > 1)
    if o.ndim < 2 or o.shape[-1] < 2:
        return bool(o.min() < 0 or o.max() > 1)
    rows = o.reshape(-1, o.shape[-1]).sum(-1)
    return bool(o.min() < 0 or np.abs(rows - 1).max() > 1e-3)
