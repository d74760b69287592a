"""Keras-style training on any ember module: ``compile``, ``fit``, ``evaluate``, ``predict``.

``ember.Model`` is an ``nn.Module``; wrap a module (``ember.Model(net)``) or subclass it and
define ``forward``. ``ember.Sequential`` is ``nn.Sequential`` with the same methods. Training
runs the same engine as a hand-written loop: DataLoader batches, forward, loss, backward,
optimizer step; only the bookkeeping (progress, metrics, callbacks, validation) is added.
"""
import copy
import math
import warnings

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
from . import distributed as _dist
from . import inputs as _inputs
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
                             _opt_spec=None, input_shape=None, _n_outputs=None,
                             _out_shape=None, _loss_obj=None)

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
        loss_obj = loss() if isinstance(loss, type) else loss
        metric_objs = [_metrics.get(m) for m in (metrics or [])]
        spec = None if isinstance(optimizer, Optimizer) else _optimizers.get(optimizer)
        self.loss_name, self.loss_fn, self.metric_objs = loss_name, loss_fn, metric_objs
        self.__dict__["_loss_obj"] = loss_obj
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
        """(dataset or loader, n, scanned) from arrays/Tensors/Dataset/DataLoader. Arrays are
        scanned whole here (``scanned=True``: NaN/Inf now, labels once the output width is
        known); datasets and loaders are checked batch by batch instead."""
        if isinstance(x, DataLoader):
            return x, len(x.dataset), False
        if isinstance(x, Dataset) and y is None:
            return x, len(x), False
        if y is None:
            raise ValueError(f"{what}: targets y are required with array inputs")
        xa, ya = _array(x, f"{what} x"), _array(y, f"{what} y")
        if len(xa) != len(ya):
            raise ValueError(f"{what}: x has {len(xa)} samples but y has {len(ya)}; they must "
                             "have the same length")
        if len(xa) == 0:
            raise ValueError(f"{what}: no samples")
        _inputs.check_finite(xa, f"{what}: x")
        _inputs.check_finite(ya, f"{what}: y")
        if xa.dtype == np.float64:
            xa = xa.astype(np.float32)
        return TensorDataset(xa, ya), len(xa), True

    def _loader(self, data, batch_size, shuffle, sampler=None):
        loader = data if isinstance(data, DataLoader) else \
            DataLoader(data, batch_size=batch_size, shuffle=shuffle, sampler=sampler)
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

    def _check_batch(self, xb, yb, where, step=None):
        """The per-batch input checks (datasets and loaders), before the batch's step."""
        _inputs.check_finite(_inputs.as_array(xb), f"{where}: x", step)
        ya = _inputs.as_array(yb)
        _inputs.check_finite(ya, f"{where}: y", step)
        if self._out_shape is not None:
            shape = (len(ya),) + self._out_shape[1:]
            _inputs.check_targets(self.loss_name, ya, shape, where, step)

    # ---- the train step ----------------------------------------------------------------
    def train_step(self, x, y):
        """One optimizer step on one batch: forward in train mode, loss, backward, update.

        This is the unit ``fit`` and ``train_on_batch`` both run, and the unit a jit compiles:
        batch Tensors in, ``(loss, y_pred)`` out -- the loss as a float and the predictions as
        an array, from which the caller updates its metrics. No bookkeeping happens inside
        (metrics, callbacks, progress and the input checks stay outside, in Python).
        """
        step = self.__dict__.get("_jit_step")
        loss, out = step(x, y) if step is not None else self._tensor_step(x, y)
        return float(loss.data), out.data

    def _tensor_step(self, x, y):
        """The step on tensors (what ``fit(jit=True)`` compiles with ``ember.jit``)."""
        out = self(x)
        loss = self.loss_fn(out, y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss, out

    # ---- fit ---------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            jit=False, distributed=None):
        """Train for ``epochs`` (counting from ``initial_epoch``); returns a History whose
        ``history`` dict holds per-epoch loss, metrics and their ``val_`` versions.
        ``jit=True`` compiles the train step with ``ember.jit`` (traced on the first batch of
        each shape, replayed after; what cannot be traced runs eagerly with one warning).
        ``distributed=True`` trains data-parallel on the processes of an MPI job (``None``:
        when started by ``mpirun -n N``, N > 1); ``batch_size`` is then per process and only
        rank 0 prints and writes files (see :mod:`ember.train.distributed`).

        Inputs are checked before anything changes (see :mod:`ember.train.inputs`): arrays
        whole up front, a Dataset / DataLoader batch by batch before each batch's step."""
        batch_size = _inputs.check_batch_size(batch_size)
        if not isinstance(validation_split, (int, float)) or isinstance(validation_split, bool) \
                or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be a number in [0, 1), got "
                             f"{validation_split!r}")
        if self.loss_fn is None:
            raise RuntimeError("call model.compile(optimizer=..., loss=...) before fit")
        data, n, scanned = self._make_data(x, y, "fit")
        val, val_scanned = None, False
        if validation_data is not None:
            if isinstance(validation_data, (DataLoader, Dataset)):
                val = validation_data
            else:
                val, _, val_scanned = self._make_data(validation_data[0], validation_data[1],
                                                      "validation_data")
        elif validation_split:
            if not isinstance(data, TensorDataset):
                raise ValueError("validation_split needs array inputs; pass validation_data")
            # Keras takes the last fraction of the samples, before shuffling
            cut = int(n * (1 - validation_split))
            if cut == 0 or cut == n:
                raise ValueError(
                    f"validation_split={validation_split} of {n} samples leaves {cut} for "
                    f"training and {n - cut} for validation; both need at least one (use a "
                    "split such as 0.1 or 0.2)")
            xs, ys = data.arrays
            data, val = TensorDataset(xs[:cut], ys[:cut]), TensorDataset(xs[cut:], ys[cut:])
            val_scanned = True
        self.batch_size = batch_size
        dctx = _dist.fit_context(self, distributed, jit)
        if dctx is not None:
            verbose, callbacks = dctx.verbose(verbose), dctx.callbacks(callbacks)
        if jit:
            from ..graph.jit import jit as _jit
            self.__dict__["_jit_step"] = _jit(self._tensor_step)
        else:
            self.__dict__.pop("_jit_step", None)
        history = History()
        history.model = self
        history.params = {"epochs": epochs, "steps": 0, "batch_size": self.batch_size}
        self.history = history
        if initial_epoch >= epochs:  # nothing left to train (Keras returns an empty History)
            return history
        # one batch through the model before anything else (eval mode, no grad: no dropout
        # draws, no batch-norm statistics moved): builds lazy layers, creates the optimizer
        # (callbacks may read its lr), learns the output width the label checks need. A user's
        # DataLoader is not iterated twice (its shuffling and augmentation draw from the random
        # stream), so its first training batch is used, inside the loop, before its step.
        first = not scanned
        if first:
            if any(True for _ in self.parameters()):
                self._ensure_optimizer()
        else:
            xb, yb = next(iter(self._loader(data, self.batch_size, False)))[:2]
            self._first_batch(xb, yb)
            ya = data.arrays[1]
            _inputs.check_targets(self.loss_name, ya, (len(ya),) + self._out_shape[1:],
                                  "the training labels")
        if val_scanned and self._out_shape is not None:
            ya = val.arrays[1]
            _inputs.check_targets(self.loss_name, ya, (len(ya),) + self._out_shape[1:],
                                  "the validation labels")
        # History last, as Keras: it records what other callbacks add to the logs (e.g. lr)
        cbs = CallbackList(list(callbacks or []) + [history], self)
        bar = ProgressBar(verbose)
        watch = _LossWatch()
        # the doctor reports divergence itself (and stops training): no second warning
        watch.warned = any(hasattr(cb, "doctor") for cb in (callbacks or []))
        self.stop_training = False
        cbs.on_train_begin()
        try:
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                loader = self._loader(data, self.batch_size, shuffle) if dctx is None else \
                    dctx.train_loader(data, self.batch_size, shuffle, epoch)
                steps = len(loader)
                if steps == 0:
                    raise ValueError(f"fit: the data gives no batches ({n} samples, batch size "
                                     f"{self.batch_size}, drop_last); use a smaller batch size")
                history.params["steps"] = steps
                bar.epoch_begin(epoch, epochs, steps)
                self.train()
                for m in self.metric_objs:
                    m.reset()
                total, count, done = 0.0, 0, 0
                for step, batch in enumerate(loader):
                    xb, yb = batch[0], batch[1]
                    cbs.on_train_batch_begin(step)
                    where = f"epoch {epoch + 1}, batch {step}"
                    if first:
                        self._check_batch(xb, yb, where, step)  # NaN before any forward
                        self._first_batch(xb, yb)
                        first = False
                    if not scanned:
                        self._check_batch(xb, yb, where, step)
                    if dctx is not None:
                        dctx.before_step()
                    lv, out = self.train_step(xb, yb)
                    watch.update(lv, where)
                    nb = len(xb)
                    total += lv * nb
                    count += nb
                    done = step + 1
                    for m in self.metric_objs:
                        m.update(out, yb.data)
                    logs = {"loss": total / count}
                    logs.update({m.name: m.result() for m in self.metric_objs})
                    cbs.on_train_batch_end(step, {"loss": lv})
                    bar.batch_end(step + 1, logs)
                    if dctx is not None:  # every rank stops at the same step
                        self.stop_training = dctx.any(self.stop_training)
                    if self.stop_training:
                        break
                if dctx is not None:
                    logs = dctx.epoch_logs(total, count, self.metric_objs)
                if val is not None:
                    vals = self._evaluate(val, self.batch_size, checked=val_scanned)
                    logs.update({"val_" + k: v for k, v in vals.items()})
                self._epoch = epoch + 1
                cbs.on_epoch_end(epoch, logs)
                bar.epoch_end(logs, done)
                if self.stop_training:
                    break
        except BaseException as e:
            if dctx is not None:
                dctx.fail(e)
            raise
        finally:
            if dctx is not None:
                dctx.close()
            # also on errors, so callbacks release what they hold (files, forward hooks)
            cbs.on_train_end()
        return history

    def _first_batch(self, xb, yb):
        """Build lazy layers, create the optimizer and learn the output shape using one batch
        in eval mode (nothing moves); warn once if a probability loss gets logits."""
        was = self.training
        self.eval()
        try:
            with no_grad():
                out = self(xb)
        finally:
            self.train(was)
        if self.input_shape is None:
            self.__dict__["input_shape"] = tuple(xb.shape[1:])
        self.__dict__["_out_shape"] = tuple(out.shape)
        self.__dict__["_n_outputs"] = out.shape[-1] if out.ndim else 1
        if not _losses.takes_logits(self._loss_obj, self.loss_name) and \
                _inputs.looks_like_logits(self.loss_name, out):
            o = _inputs.as_array(out)  # on the host (the model may be on a device)
            warnings.warn(
                f"loss {self.loss_name!r} expects probabilities (a final softmax / sigmoid), "
                f"but the model outputs values in [{o.min():.3g}, {o.max():.3g}] (logits?): the "
                "loss clips them and reports meaningless values. End the model with "
                "activation='softmax' (or 'sigmoid'), or compile with from_logits=True (Keras "
                "loss classes) or loss='cross_entropy'", UserWarning, stacklevel=3)
        self._ensure_optimizer()

    # ---- evaluate / predict -----------------------------------------------------------
    def _evaluate(self, data, batch_size, checked=False):
        was = self.training
        self.eval()
        for m in self.metric_objs:
            m.reset()
        total, count = 0.0, 0
        group = _dist.eval_group()  # several processes: each evaluates its part, then sum
        loader, shared = (self._loader(data, batch_size, False), False) if group is None \
            else _dist.eval_loader(self, data, batch_size, group)
        with no_grad():
            for step, batch in enumerate(loader):
                xb, yb = batch[0], batch[1]
                if not checked:
                    _inputs.check_finite(_inputs.as_array(xb), f"evaluation batch {step}: x")
                out = self(xb)
                if not checked:
                    _inputs.check_targets(self.loss_name, yb, tuple(out.shape),
                                          f"evaluation batch {step}")
                nb = len(xb)
                total += float(self.loss_fn(out, yb).data) * nb
                count += nb
                for m in self.metric_objs:
                    m.update(out.data, yb.data)
        self.train(was)
        metrics = self.metric_objs
        if shared:
            metrics = _dist.reduce_metrics(metrics, group)
            total, count = _dist.reduce_loss(total, count, group)
            total *= count
        res = {"loss": total / max(count, 1)}
        res.update({m.name: m.result() for m in metrics})
        return res

    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, return_dict=False):
        """Loss and metrics on the given data: ``[loss, metric1, ...]`` (a float when there are
        no metrics), or a dict with ``return_dict=True``. With a process group of several
        ranks (``ember.distributed``), every rank must call it: each evaluates its part of
        the data and the results are summed over the ranks."""
        if self.loss_fn is None:
            raise RuntimeError("call model.compile(...) before evaluate")
        batch_size = _inputs.check_batch_size(batch_size, "evaluate")
        data, n, scanned = self._make_data(x, y, "evaluate")
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
        """One optimizer step on one batch (the :meth:`train_step` ``fit`` runs, after the
        same input checks); returns the loss."""
        if self.loss_fn is None:
            raise RuntimeError("call model.compile(optimizer=..., loss=...) before "
                               "train_on_batch")
        xa, ya = _array(x, "x"), _array(y, "y")
        if xa.dtype == np.float64:
            xa = xa.astype(np.float32)
        xb, yb = Tensor(xa), Tensor(ya)
        self._check_batch(xb, yb, "train_on_batch")  # on the host, before any move
        dev = self._device()
        if dev is not None:
            xb, yb = xb.to(dev), yb.to(dev)
        if self._out_shape is None or self.optimizer is None:
            self._first_batch(xb, yb)
            self._check_batch(xb, yb, "train_on_batch")
        self.train()
        return self.train_step(xb, yb)[0]

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


class _LossWatch:
    """fit's built-in divergence check (no doctor needed): one warning when the batch loss
    grows past 3x its first value (the lectures' rule) or stops being finite."""

    factor = 3.0

    def __init__(self):
        self.first = None
        self.warned = False

    def update(self, loss, where):
        if self.first is None:
            self.first = loss
            return
        if self.warned:
            return
        if not math.isfinite(loss):
            msg = f"the training loss became {loss} at {where}"
        elif math.isfinite(self.first) and loss > self.factor * abs(self.first):
            msg = (f"the training loss {loss:.4g} at {where} is more than "
                   f"{self.factor:g}x its first value {self.first:.4g}")
        else:
            return
        self.warned = True
        warnings.warn(msg + ": training is diverging; lower the learning rate (10x), or "
                      "watch it with ember.diagnose.DoctorCallback()", RuntimeWarning,
                      stacklevel=3)


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
