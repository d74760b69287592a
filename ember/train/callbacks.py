"""Callbacks for ``Model.fit`` (Keras names and meanings).

A callback sees ``self.model`` and is called at ``on_train_begin/end``, ``on_epoch_begin/end
(epoch, logs)`` and ``on_train_batch_begin/end(batch, logs)``. Setting
``model.stop_training = True`` ends training after the current epoch (or batch).
"""
import csv
import math
import os

import numpy as np


class Callback:
    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class CallbackList(Callback):
    """Calls every callback in order."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks or [])
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise TypeError(f"callbacks must be ember Callback instances, got {c!r}")
            c.set_model(model)

    def _call(self, name, *args):
        for c in self.callbacks:
            getattr(c, name)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)


def _mode_better(mode, monitor):
    if mode == "auto":
        mode = "max" if any(k in monitor for k in ("acc", "precision", "recall", "f1")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


class _Monitor(Callback):
    def __init__(self, monitor, mode, min_delta):
        self.monitor = monitor
        self.mode = _mode_better(mode, monitor)
        self.min_delta = abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _value(self, logs):
        if logs is None or self.monitor not in logs:
            available = ", ".join(sorted(logs or {}))
            raise KeyError(f"{type(self).__name__}: monitored quantity {self.monitor!r} is not in "
                           f"the epoch logs (available: {available}). Add validation data for "
                           "val_* quantities or the metric to compile().")
        return float(logs[self.monitor])


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    ``restore_best_weights`` puts back the weights of the best epoch."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False, baseline=None):
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.baseline = baseline

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = None
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = self.baseline
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if self._improved(value):
            self.best = value
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = {k: np.array(v.data, copy=True)
                                     for k, v in self.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:  # Keras: patience epochs without improvement
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (weights and optimizer state, no pickle) after each epoch to ``filepath``,
    which may hold fields like ``{epoch:02d}`` or ``{val_loss:.3f}``. With ``save_best_only``,
    save only when ``monitor`` improves. ``save_weights_only`` saves the state dict alone."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, save_weights_only=False,
                 mode="auto", verbose=0):
        super().__init__(monitor, mode, 0.0)
        self.filepath = str(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.verbose = verbose
        self.saved = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value):
                return
            self.best = value
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} uses {e.args[0]!r}, "
                           f"which is not in the epoch logs ({', '.join(sorted(logs))}); "
                           "val_* values need validation data") from None
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


def _set_lr(optimizer, lr, model=None):
    if optimizer is None:  # not built yet (lazy layers): set it on the pending spec
        model._opt_spec.kwargs["lr"] = lr
        return
    for g in optimizer.param_groups:
        g["lr"] = lr


def _get_lr(optimizer, model=None):
    if optimizer is None:
        return model._opt_spec.kwargs.get("lr")
    return optimizer.param_groups[0]["lr"]


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (or ``schedule(epoch)``)."""

    def __init__(self, schedule, verbose=0):
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = _get_lr(self.model.optimizer, self.model)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        new = float(new)
        if not math.isfinite(new) or new < 0:
            raise ValueError(f"LearningRateScheduler: schedule returned an invalid lr {new}")
        _set_lr(self.model.optimizer, new, self.model)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {new:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = _get_lr(self.model.optimizer, self.model)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, verbose=0):
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau: factor must be < 1")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.cooldown, self.min_lr = factor, patience, cooldown, min_lr
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        logs["lr"] = _get_lr(self.model.optimizer, self.model)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best = value
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = _get_lr(self.model.optimizer, self.model)
                if old > self.min_lr:  # Keras's rule (no absolute epsilon: tiny rates shrink too)
                    new = max(old * self.factor, self.min_lr)
                    _set_lr(self.model.optimizer, new, self.model)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau lr {old:.3g} -> {new:.3g}")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write one CSV row per epoch (epoch and every logged value) to ``filename``."""

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.sep, self.append = str(filename), separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename)
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer = None
        self.keys = None
        self._header_written = exists and os.path.getsize(self.filename) > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(self.file, ["epoch"] + self.keys, delimiter=self.sep,
                                         extrasaction="ignore")
            if not self._header_written:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_batch_begin=None,
                 on_train_batch_end=None, on_train_begin=None, on_train_end=None, on_batch_end=None,
                 on_batch_begin=None):
        for name, fn in [("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_batch_begin", on_train_batch_begin or on_batch_begin),
                         ("on_train_batch_end", on_train_batch_end or on_batch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end)]:
            if fn is not None:
                setattr(self, name, fn)


class BatchSizeScheduler(Callback):
    """Grow the batch size instead of decaying the learning rate (Smith et al., 2018):
    ``schedule(epoch, batch_size) -> new batch size`` applied at each epoch start."""

    def __init__(self, schedule, verbose=0):
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        bs = int(self.schedule(epoch, self.model.batch_size))
        if bs < 1:
            raise ValueError(f"BatchSizeScheduler: schedule returned batch size {bs}")
        self.model.batch_size = bs
        if self.verbose:
            print(f"Epoch {epoch + 1}: batch size {bs}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["batch_size"] = self.model.batch_size


class History(Callback):
    """Records the per-epoch logs: ``history.history['loss']`` is the list of epoch losses."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


# At the bottom: the TensorBoard callback subclasses Callback from this module.
from .tensorboard import TensorBoard  # noqa: E402
