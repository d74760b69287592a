"""Keras-style training on any ember module: ``compile``, ``fit``, ``evaluate``, ``predict``.

``ember.Model`` is an ``nn.Module``; wrap a module (``ember.Model(net)``) or subclass it and
define ``forward``. ``ember.Sequential`` is ``nn.Sequential`` with the same methods. Training
runs the same engine as a hand-written loop: DataLoader batches, forward, loss, backward,
optimizer step; only the bookkeeping (progress, metrics, callbacks, validation) is added.
"""
import copy
import math

import numpy as np

from .. import random as _random
from ..backend import to_host
from ..autograd import no_grad
from ..data import DataLoader, Dataset, TensorDataset
from ..io import CheckpointError
from ..io import load as _load
from ..io import save as _save
from ..nn.module import Module, Sequential as _NNSequential
from ..tensor import Tensor
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from .callbacks import CallbackList, History
from .progress import ProgressBar

_FORMAT = "ember.Model/1"


def _array(x, what):
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"{what} must be a NumPy array, a Tensor, a Dataset or a DataLoader, "
                    f"got {type(x).__name__}")


class _OnDevice:
    """A DataLoader whose tensors are copied to ``device`` batch by batch (Keras moves the
    data to the model's device by itself; so does ember's fit)."""

    def __init__(self, loader, device):
        self.loader, self.device = loader, device

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            if isinstance(batch, Tensor):
                yield batch.to(self.device)
            else:
                yield type(batch)(b.to(self.device) if isinstance(b, Tensor) else b
                                  for b in batch)


class Model(Module):
    """A trainable model with Keras's training API.

    Example::

        model = ember.Model(net)          # or subclass ember.Model and define forward
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x_train, y_train, batch_size=128, epochs=5, validation_split=0.1)
        test_loss, test_acc = model.evaluate(x_test, y_test)
    """

    def __init__(self, module=None):
        if "_modules" not in self.__dict__:  # Sequential has already set up the module tree
            Module.__init__(self)
        if module is not None:
            self.module = module
        self.__dict__.update(optimizer=None, loss_fn=None, loss_name=None, metric_objs=[],
                             stop_training=False, batch_size=32, history=None, _epoch=0,
                             _opt_spec=None, input_shape=None, _n_outputs=None)

    def forward(self, *args, **kwargs):
        if "module" not in self._modules:
            raise NotImplementedError("ember.Model: wrap a module (ember.Model(net)) or subclass "
                                      "Model and define forward()")
        return self.module(*args, **kwargs)

    # ---- compile -----------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer (name, ember.optim Optimizer, or a keras-style optimizer spec),
        the loss (Keras name or callable ``f(y_pred, y_true)``) and metrics to report."""
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. "
                             "loss='sparse_categorical_crossentropy'")
        from ..optim import Optimizer
        # resolve everything first, so a mistake leaves the model as it was
        loss_name, loss_fn = _losses.get(loss)
        metric_objs = [_metrics.get(m) for m in (metrics or [])]
        spec = None if isinstance(optimizer, Optimizer) else _optimizers.get(optimizer)
        self.loss_name, self.loss_fn, self.metric_objs = loss_name, loss_fn, metric_objs
        self.optimizer = optimizer if spec is None else None
        self._opt_spec = spec
        return self

    def _ensure_optimizer(self):
        if self.loss_fn is None:
            raise RuntimeError("call model.compile(optimizer=..., loss=...) before fit/evaluate")
        if self.optimizer is None:
            params = [p for p in self.parameters() if p.requires_grad]
            if not params:
                raise RuntimeError("the model has no trainable parameters (all frozen, or the "
                                   "layers are not built yet)")
            self.optimizer = self._opt_spec.build(params)

    # ---- data --------------------------------------------------------------------------
    def _make_data(self, x, y, what):
        """(dataset or loader, n) from arrays/Tensors/Dataset/DataLoader, with input checks."""
        if isinstance(x, DataLoader):
            return x, len(x.dataset)
        if isinstance(x, Dataset) and y is None:
            return x, len(x)
        if y is None:
            raise ValueError(f"{what}: targets y are required with array inputs")
        xa, ya = _array(x, f"{what} x"), _array(y, f"{what} y")
        if len(xa) != len(ya):
            raise ValueError(f"{what}: x has {len(xa)} samples but y has {len(ya)}; they must "
                             "have the same length")
        if len(xa) == 0:
            raise ValueError(f"{what}: no samples")
        if xa.dtype.kind == "f" and not np.isfinite(xa).all():
            bad = int((~np.isfinite(xa)).sum())
            raise ValueError(f"{what}: x contains {bad} NaN or infinite values; clean or impute "
                             "them before training")
        if ya.dtype.kind == "f" and not np.isfinite(ya).all():
            bad = int((~np.isfinite(ya)).sum())
            raise ValueError(f"{what}: y contains {bad} NaN or infinite values")
        if xa.dtype == np.float64:
            xa = xa.astype(np.float32)
        return TensorDataset(xa, ya), len(xa)

    def _check_targets(self, out, yb):
        """Catch label/shape mistakes on the first batch, before any update."""
        name = self.loss_name
        y = yb.data if isinstance(yb, Tensor) else np.asarray(yb)
        if name in _losses.SPARSE:
            if y.dtype.kind not in "iu":
                raise ValueError(f"loss {name!r} needs integer class labels, got dtype {y.dtype} "
                                 f"(one-hot targets go with 'categorical_crossentropy')")
            c = out.shape[-1]
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= c:
                raise ValueError(f"loss {name!r}: labels range over [{lo}, {hi}] but the model "
                                 f"outputs {c} classes (valid labels are 0..{c - 1})")
        if name in _losses.ONE_HOT and y.shape != tuple(out.shape):
            raise ValueError(f"loss {name!r}: targets of shape {y.shape} for outputs of shape "
                             f"{tuple(out.shape)}; use ember.data.to_categorical(y) or "
                             "loss='sparse_categorical_crossentropy'")

    def _loader(self, data, batch_size, shuffle):
        loader = data if isinstance(data, DataLoader) else \
            DataLoader(data, batch_size=batch_size, shuffle=shuffle)
        dev = self._device()
        return loader if dev is None else _OnDevice(loader, dev)

    def to(self, *args, **kwargs):
        """``Module.to``; the device is also remembered, so batches from fit/evaluate/predict
        and lazily built (Keras) layers land on it."""
        out = super().to(*args, **kwargs)
        from ..tensor import _parse_to
        dev = _parse_to(args, dict(kwargs))[0]
        if dev is not None:
            self.__dict__["_to_device"] = dev
        return out

    def _device(self):
        """The model's device when it is not the host (batches are moved there), else None."""
        dev = self.__dict__.get("_to_device")
        if dev is None:
            for p in self.parameters():
                dev = p.device
                break
        return None if dev is None or dev.type == "cpu" else dev

    # ---- fit ---------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        """Train for ``epochs`` (counting from ``initial_epoch``); returns a History whose
        ``history`` dict holds per-epoch loss, metrics and their ``val_`` versions."""
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        data, n = self._make_data(x, y, "fit")
        val = None
        if validation_data is not None:
            if isinstance(validation_data, (DataLoader, Dataset)):
                val = validation_data
            else:
                val = self._make_data(validation_data[0], validation_data[1], "validation_data")[0]
        elif validation_split:
            if not isinstance(data, TensorDataset):
                raise ValueError("validation_split needs array inputs; pass validation_data")
            # Keras takes the last fraction of the samples, before shuffling
            cut = int(n * (1 - validation_split))
            xs, ys = data.arrays
            data, val = TensorDataset(xs[:cut], ys[:cut]), TensorDataset(xs[cut:], ys[cut:])
        self.batch_size = int(batch_size)
        history = History()
        history.model = self
        history.params = {"epochs": epochs, "steps": 0, "batch_size": self.batch_size}
        self.history = history
        if initial_epoch >= epochs:  # nothing left to train (Keras returns an empty History)
            return history
        # one batch through the model before anything else (eval mode, no grad: no dropout
        # draws, no batch-norm statistics moved): builds lazy layers, creates the optimizer
        # (callbacks may read its lr) and checks the targets before any update. A user's
        # DataLoader is not iterated twice (its shuffling and augmentation draw from the random
        # stream), so its first training batch is checked instead.
        first = isinstance(data, DataLoader)
        if first:
            if any(True for _ in self.parameters()):
                self._ensure_optimizer()
        else:
            xb, yb = next(iter(self._loader(data, self.batch_size, False)))[:2]
            self._first_batch(xb, yb, data.arrays[1] if isinstance(data, TensorDataset) else None)
        if isinstance(val, TensorDataset) and self.loss_name in _losses.SPARSE and \
                self._n_outputs:
            self._check_label_range(val.arrays[1], self._n_outputs, "validation")
        # History last, as Keras: it records what other callbacks add to the logs (e.g. lr)
        cbs = CallbackList(list(callbacks or []) + [history], self)
        bar = ProgressBar(verbose)
        self.stop_training = False
        cbs.on_train_begin()
        try:
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                loader = self._loader(data, self.batch_size, shuffle)
                steps = len(loader)
                if steps == 0:
                    raise ValueError(f"fit: the data gives no batches ({n} samples, batch size "
                                     f"{self.batch_size}, drop_last); use a smaller batch size")
                history.params["steps"] = steps
                bar.epoch_begin(epoch, epochs, steps)
                self.train()
                for m in self.metric_objs:
                    m.reset()
                total, count = 0.0, 0
                for step, batch in enumerate(loader):
                    xb, yb = batch[0], batch[1]
                    cbs.on_train_batch_begin(step)
                    if first:
                        self._first_batch(xb, yb)
                        first = False
                    out = self(xb)
                    loss = self.loss_fn(out, yb)
                    self.optimizer.zero_grad()
                    loss.backward()
                    self.optimizer.step()
                    lv = float(loss.data)
                    nb = len(xb)
                    total += lv * nb
                    count += nb
                    for m in self.metric_objs:
                        m.update(out.data, yb.data)
                    logs = {"loss": total / count}
                    logs.update({m.name: m.result() for m in self.metric_objs})
                    cbs.on_train_batch_end(step, {"loss": lv})
                    bar.batch_end(step + 1, logs)
                    if self.stop_training:
                        break
                if val is not None:
                    vals = self._evaluate(val, self.batch_size)
                    logs.update({"val_" + k: v for k, v in vals.items()})
                self._epoch = epoch + 1
                cbs.on_epoch_end(epoch, logs)
                bar.epoch_end(logs)
                if self.stop_training:
                    break
        finally:
            # also on errors, so callbacks release what they hold (files, forward hooks)
            cbs.on_train_end()
        return history

    def _first_batch(self, xb, yb, y_all=None):
        """Build lazy layers, create the optimizer and check the targets (all of ``y_all`` when
        the labels are known up front) using one batch in eval mode."""
        was = self.training
        self.eval()
        try:
            with no_grad():
                out = self(xb)
        finally:
            self.train(was)
        if self.input_shape is None:
            self.__dict__["input_shape"] = tuple(xb.shape[1:])
        self.__dict__["_n_outputs"] = out.shape[-1] if out.ndim else 1
        self._check_targets(out, yb)
        if y_all is not None and self.loss_name in _losses.SPARSE:
            self._check_label_range(y_all, self._n_outputs, "training")
        self._ensure_optimizer()

    def _check_label_range(self, y, c, which):
        y = np.asarray(y)
        if y.size and y.dtype.kind in "iu":
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= c:
                raise ValueError(f"loss {self.loss_name!r}: {which} labels range over "
                                 f"[{lo}, {hi}] but the model outputs {c} classes (valid "
                                 f"labels are 0..{c - 1})")

    # ---- evaluate / predict -----------------------------------------------------------
    def _evaluate(self, data, batch_size):
        was = self.training
        self.eval()
        for m in self.metric_objs:
            m.reset()
        total, count = 0.0, 0
        checked = False
        with no_grad():
            for batch in self._loader(data, batch_size, False):
                xb, yb = batch[0], batch[1]
                out = self(xb)
                if not checked:
                    self._check_targets(out, yb)
                    checked = True
                nb = len(xb)
                total += float(self.loss_fn(out, yb).data) * nb
                count += nb
                for m in self.metric_objs:
                    m.update(out.data, yb.data)
        self.train(was)
        res = {"loss": total / max(count, 1)}
        res.update({m.name: m.result() for m in self.metric_objs})
        return res

    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, return_dict=False):
        """Loss and metrics on the given data: ``[loss, metric1, ...]`` (a float when there are
        no metrics), or a dict with ``return_dict=True``."""
        if self.loss_fn is None:
            raise RuntimeError("call model.compile(...) before evaluate")
        data, _ = self._make_data(x, y, "evaluate")
        res = self._evaluate(data, batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in res.items()))
        if return_dict:
            return res
        vals = list(res.values())
        return vals[0] if len(vals) == 1 else vals

    def predict(self, x, batch_size=32, verbose=0):
        """Model outputs for ``x`` as a NumPy array, computed in eval mode in batches."""
        if isinstance(x, DataLoader):
            loader = x
        elif isinstance(x, Dataset):
            loader = DataLoader(x, batch_size=batch_size)
        else:
            xa = _array(x, "predict x")
            if xa.dtype == np.float64:
                xa = xa.astype(np.float32)
            loader = DataLoader(TensorDataset(xa), batch_size=batch_size)
        if self._device() is not None:
            loader = _OnDevice(loader, self._device())
        was = self.training
        self.eval()
        outs = []
        with no_grad():
            for batch in loader:
                xb = batch[0] if isinstance(batch, (tuple, list)) else batch
                outs.append(to_host(self(xb).data))
        self.train(was)
        return np.concatenate(outs) if outs else np.zeros((0,))

    def train_on_batch(self, x, y):
        """One optimizer step on one batch; returns the loss."""
        xb, yb = Tensor(_array(x, "x")), Tensor(_array(y, "y"))
        dev = self._device()
        if dev is not None:
            xb, yb = xb.to(dev), yb.to(dev)
        self.train()
        self._ensure_optimizer()
        loss = self.loss_fn(self(xb), yb)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.data)

    def summary(self, input_shape=None):
        """Print the layer table (output shapes, parameter counts). ``input_shape`` excludes the
        batch dimension; it defaults to the shape seen by fit or given by the first layer."""
        from ..summary import summary
        shape = input_shape or self.input_shape
        if shape is None:
            raise ValueError("summary: give input_shape (without the batch dim), e.g. (784,)")
        return summary(self, tuple(shape))

    # ---- save / load -------------------------------------------------------------------
    def save(self, path):
        """Save weights, optimizer state, the epoch count and the random state (so a resumed
        run continues exactly) to one safetensors file; no pickle."""
        state = {"format": _FORMAT, "model": self.state_dict(), "epoch": self._epoch,
                 "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
                 "rng": _rng_state()}
        _save(state, path)

    def load(self, path):
        """Restore what :meth:`save` wrote into this (identically built) model. Returns the
        epoch count, to pass as ``fit(initial_epoch=...)``.

        All or nothing: weights, optimizer state, epoch and random state are all checked
        before any is applied; a bad file raises CheckpointError and changes nothing."""
        state = _load(path)

        def bad(msg):
            return CheckpointError(f"{path}: {msg}")

        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise bad("not an ember.Model checkpoint (use load_weights for a plain state dict)")
        if state.get("optimizer") is not None and self.loss_fn is None:
            raise RuntimeError(f"{path} holds optimizer state: call model.compile(...) with the "
                               "same optimizer before model.load (or use load_weights)")
        epoch = state.get("epoch", 0)
        if type(epoch) is not int or epoch < 0:
            raise bad(f"epoch must be a non-negative int, got {str(epoch)[:40]}")
        try:
            ready = self._check_state_dict(state.get("model"))[0]
        except (RuntimeError, TypeError) as e:
            raise bad(f"its weights do not fit this model: {e}") from None
        rng = _check_rng_state(state.get("rng"), bad)
        had_optimizer, opt_state = self.optimizer is not None, state.get("optimizer")
        if opt_state is not None:
            self._ensure_optimizer()
            try:  # a dry run on a shallow copy: load_state_dict replaces, never mutates, state
                copy.copy(self.optimizer).load_state_dict(opt_state)
            except (KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
                if not had_optimizer:
                    self.optimizer = None
                raise bad(f"its optimizer state does not fit this model's "
                          f"{type(self.optimizer or self._opt_spec).__name__} ({e!r}); compile "
                          "with the optimizer the checkpoint was saved with") from None
            self.optimizer.load_state_dict(opt_state)
        with no_grad():
            for t, v in ready:
                t.copy_(v)
        if rng is not None:
            _random.get_generator().bit_generator.state = rng
        self._epoch = epoch
        return self._epoch

    def save_weights(self, path):
        _save(self.state_dict(), path)

    def load_weights(self, path):
        state = _load(path)
        if isinstance(state, dict) and state.get("format") == _FORMAT:
            state = state["model"]
        try:
            self.load_state_dict(state)  # all or nothing
        except (RuntimeError, TypeError) as e:
            raise CheckpointError(f"{path}: its weights do not fit this model: {e}") from None


def _rng_state():
    st = _random.get_generator().bit_generator.state
    return {"bit_generator": st["bit_generator"], "state": str(st["state"]["state"]),
            "inc": str(st["state"]["inc"]), "has_uint32": int(st["has_uint32"]),
            "uinteger": int(st["uinteger"])}


def _set_rng_state(s):
    _random.get_generator().bit_generator.state = _check_rng_state(s, ValueError)


def _check_rng_state(s, bad):
    """The bit-generator state saved by _rng_state, checked on a scratch generator of the
    current type (None stays None); raises ``bad(message)`` if it does not fit."""
    if s is None:
        return None
    try:
        st = {"bit_generator": s["bit_generator"],
              "state": {"state": int(s["state"]), "inc": int(s["inc"])},
              "has_uint32": int(s["has_uint32"]), "uinteger": int(s["uinteger"])}
        type(_random.get_generator().bit_generator)().state = st
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise bad(f"its random state is malformed or not for this generator ({e!r})") from None
    return st


class Sequential(Model, _NNSequential):
    """``nn.Sequential`` with Keras's training methods: ``ember.Sequential(layer1, layer2, ...)``
    (or a list / OrderedDict of layers), then ``compile`` and ``fit``."""

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        _NNSequential.__init__(self, *layers)
        Model.__init__(self)

    def forward(self, x):
        return _NNSequential.forward(self, x)

    def add(self, layer):
        """Append a layer (Keras's ``model.add``)."""
        self.append(layer)
