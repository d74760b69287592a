"""``Doctor``: watches a training run (manual loop or ``Model.fit``) and reports what is wrong
in plain language; ``DoctorCallback``: the same for ``Model.fit``."""
import contextlib
import math

import numpy as np

from ..tensor import Tensor
from ..train.callbacks import Callback
from . import checks
from .findings import Finding, fmt, format_findings, sort_findings
from .lr_finder import lr_find as _lr_find
from .stats import ActivationMonitor, RELU_LIKE, grad_stats


class Doctor:
    """The training doctor.

    Doctor(model, optimizer=None, loss_fn=None, every=10, ...)

    model: the module to watch. optimizer: its optimizer (for the learning rate named in
    findings; an ``ember.Model`` 's own optimizer is found by itself). loss_fn: ``f(output,
    target)`` for the checks that compute a loss (default: softmax cross-entropy on logits, or the
    compiled loss of an ``ember.Model``). every: activation and gradient statistics are measured
    on one step in ``every`` (the loss is recorded every step; it costs nothing). layers: "auto"
    (activation modules, else leaf modules), "leaves", "all", or a list of module names.
    explode_factor: a loss above this multiple of the first loss is "exploding" (the lectures'
    3x rule). flat_tol: relative decrease of the loss below which it is "barely changing".
    verbose: print findings when they appear during training.

    Manual loop::

        doctor = Doctor(model, opt)
        with doctor.watch():
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad(); loss.backward(); opt.step()
                doctor.step(loss)
                if doctor.should_stop:      # loss exploded / NaN
                    break
        doctor.report()

    Before training: ``doctor.check_init(x, y)``, ``doctor.overfit_tiny(x, y)``,
    ``doctor.lr_find(x, y)`` (each returns its findings and keeps them for the report).
    """

    def __init__(self, model, optimizer=None, loss_fn=None, every=10, layers="auto", bins=50,
                 explode_factor=3.0, flat_tol=0.05, underfit_accuracy=0.6, verbose=True):
        if every < 1:
            raise ValueError(f"Doctor: every must be >= 1, got {every}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.every = int(every)
        self.explode_factor = explode_factor
        self.flat_tol = flat_tol
        self.underfit_accuracy = underfit_accuracy
        self.verbose = verbose
        self.monitor = ActivationMonitor(model, layers, bins)
        self.t = 0
        self.losses = []
        self.param_history = []      # [(step, [ParamStats])] on sampled steps
        self.epochs = []             # epoch logs (loss, accuracy, val_loss, val_accuracy, ...)
        self.findings = []           # findings kept for the report, in order of appearance
        self.should_stop = False
        self.init_stats = None
        self.lr_result = None
        self.overfit_result = None
        self._before = None
        self._seen = set()

    def reset_training(self):
        """Forget what the last training run showed (loss history, sampled statistics, the
        stop flag), keeping the pre-training checks; called at each ``fit`` start."""
        self.t = 0
        self.losses = []
        self.param_history = []
        self.epochs = []
        self.should_stop = False
        self._before = None
        self._seen = set()
        self.findings = [f for f in self.findings if f.step is None]

    # ---- plumbing -----------------------------------------------------------------------
    def _params(self):
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def _opt(self):
        return self.optimizer or getattr(self.model, "optimizer", None)

    def _lr(self):
        opt = self._opt()
        try:
            return float(opt.param_groups[0]["lr"])
        except (AttributeError, IndexError, KeyError, TypeError):
            return None

    def _loss_fn(self):
        if self.loss_fn is not None:
            return self.loss_fn
        return getattr(self.model, "loss_fn", None)

    def _add(self, findings, echo=None):
        """Keep new findings (one per check and layer); print them when verbose."""
        new = []
        for f in findings:
            key = (f.check, f.layer, f.severity)
            if key in self._seen:
                continue
            self._seen.add(key)
            self.findings.append(f)
            new.append(f)
            if (self.verbose if echo is None else echo) and f.severity != "ok":
                print(f"[ember doctor] {f}")
        return new

    # ---- watching -----------------------------------------------------------------------
    def attach(self):
        """Start measuring (forward hooks on the watched layers)."""
        self.monitor.attach()
        self._arm()
        return self

    def detach(self):
        """Stop measuring: hooks removed, nothing left running."""
        self.monitor.detach()
        self._before = None

    @contextlib.contextmanager
    def watch(self):
        """``with doctor.watch(): ...`` measures inside the block only."""
        self.attach()
        try:
            yield self
        finally:
            self.detach()

    def _arm(self):
        """Prepare step ``self.t``: sample it or not; keep the weights for its update ratio."""
        sample = self.t % self.every == 0
        self.monitor.sampling = sample and bool(self.monitor._handles)
        self.monitor.step = self.t
        self._before = ({n: p.data.copy() for n, p in self._params() if p.data.ndim >= 2}
                        if sample else None)

    def step(self, loss):
        """Record one training step (call after ``optimizer.step()``): the loss every step, the
        gradient statistics and update/weight ratios on sampled steps. Returns the findings
        this step produced; sets ``should_stop`` when the loss explodes or becomes NaN."""
        lv = float(loss.data if isinstance(loss, Tensor) else loss)
        t = self.t
        self.losses.append(lv)
        new = []
        first = self.losses[0]
        lr = self._lr()
        lr_txt = f"learning rate {fmt(lr)}" if lr is not None else "the learning rate"
        if not math.isfinite(lv):
            self.should_stop = True
            new.append(Finding(
                "error", "loss_exploding",
                f"the loss became {fmt(lv)} at step {t} (it started at {fmt(first)}): "
                f"{lr_txt} is far too high — NaN almost always means the learning rate is too "
                "high. Stopping early",
                suggestion=f"lower the learning rate 10-1000x (current {lr_txt}), or run "
                           "doctor.lr_find(x, y)", figures={"loss": lv, "lr": lr}, step=t))
        elif t > 0 and math.isfinite(first) and lv > self.explode_factor * abs(first):
            self.should_stop = True
            new.append(Finding(
                "error", "loss_exploding",
                f"the loss {fmt(lv)} at step {t} is more than {fmt(self.explode_factor)}x its "
                f"starting value {fmt(first)}: {lr_txt} is too high and training is diverging. "
                "Stopping early",
                suggestion=f"lower the learning rate 10x or more (current {lr_txt}), or run "
                           "doctor.lr_find(x, y) to choose one", figures={"loss": lv, "lr": lr},
                step=t))
        if self._before is not None or self.monitor.sampling:
            ps = grad_stats(self._params(), self._before, step=t)
            if ps:
                self.param_history.append((t, ps))
                bad = [p for p in ps if not p.finite]
                if bad and not self.should_stop:
                    new.append(Finding("error", "nonfinite_gradients",
                                       f"gradients of {bad[0].name} contain NaN/Inf at step {t}",
                                       layer=bad[0].name, step=t,
                                       suggestion="lower the learning rate; run under "
                                                  "ember.diagnose.detect_anomaly()"))
            for s in self.monitor.latest():
                if s.step == t and s.kind in RELU_LIKE and s.dead_frac >= checks.DEAD_ERROR:
                    new.append(Finding(
                        "warning", "dead_units",
                        f"{s.dead_frac:.0%} of the units are dead at step {t} (0 for every "
                        "sample of the batch): they get no gradient and will not recover",
                        layer=s.layer, step=t, figures={"dead_frac": s.dead_frac},
                        suggestion="lower the learning rate, check the initialization of the "
                                   "layer before it (biases >= 0), or use LeakyReLU"))
        self.t += 1
        self._arm()
        return self._add(new)

    def epoch_end(self, logs):
        """Record an epoch's logs (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``...) for
        the over/underfitting checks; returns new findings."""
        self.epochs.append({k: float(v) for k, v in (logs or {}).items()
                            if isinstance(v, (int, float, np.floating))})
        return self._add(self._epoch_findings())

    # ---- checks before training ---------------------------------------------------------
    def check_init(self, x, y=None, num_classes=None):
        """One forward (+ backward with ``y``) pass at initialization: activation statistics per
        layer (collapse, saturation, explosion, dead units), the initial loss vs the chance value
        ln(C) (classification), and gradient norms by depth. Returns the findings."""
        loss_fn = self._loss_fn()
        stats, pstats, loss, out = checks.init_measurements(self.model, self.monitor, x, y,
                                                            loss_fn)
        self.init_stats = stats
        found = checks.activation_findings(stats)
        if loss is not None and checks.is_classification(
                loss_fn, getattr(self.model, "loss_name", None)):
            c = num_classes or (out.shape[-1] if out.ndim >= 2 else None)
            if c and c > 1:
                found.append(checks.initial_loss_finding(loss, c))
        found += checks.gradient_findings(pstats)
        if y is not None:  # recurrent layers: gradients through time
            from .through_time import through_time_findings
            found += through_time_findings(self.model, x, y, loss_fn)
        name = getattr(self.model, "loss_name", None)
        if name in ("sparse_categorical_crossentropy", "categorical_crossentropy") and \
                out.ndim >= 2:
            o = out.data
            rows = o.reshape(-1, o.shape[-1]).sum(-1)
            if o.min() < 0 or np.abs(rows - 1).max() > 1e-3:
                found.append(Finding(
                    "error", "loss_input",
                    f"loss {name!r} expects probabilities, but the model outputs values in "
                    f"[{fmt(o.min())}, {fmt(o.max())}] whose rows sum to {fmt(rows.mean())} "
                    "(logits): the loss clips them and training goes wrong",
                    suggestion="end the model with a softmax (Keras: activation='softmax') or "
                               "compile with loss='cross_entropy' (softmax cross-entropy on "
                               "logits)", figures={"min": float(o.min()),
                                                   "row_sum": float(rows.mean())}))
        return self._add(found, echo=False)

    def overfit_tiny(self, x, y, n=20, steps=200, lr=1e-3):
        """Can the model overfit ``n`` examples (100% accuracy, ~0 loss)? Weights untouched.
        Returns the findings (a list, as the other checks; the loss curve is kept in
        ``doctor.overfit_result``)."""
        f, res = checks.overfit_tiny(self.model, x, y, self._loss_fn(), n=n, steps=steps, lr=lr)
        self.overfit_result = res
        self._add([f], echo=False)
        return [f]

    def lr_find(self, x, y, **kwargs):
        """Learning-rate range test (see :func:`ember.diagnose.lr_find`); uses the doctor's
        optimizer when it has one. Model and optimizer are restored. Returns the result."""
        kwargs.setdefault("loss_fn", self._loss_fn())
        kwargs.setdefault("optimizer", self._opt())
        res = _lr_find(self.model, x, y, **kwargs)
        self.lr_result = res
        self._add(res.findings, echo=False)
        return res

    # ---- checks over the run ------------------------------------------------------------
    def _loss_findings(self):
        out = []
        L = [v for v in self.losses if math.isfinite(v)]
        n = len(L)
        if n < 10 or self.should_stop:
            return out
        w = max(2, min(20, n // 5))
        a, b = float(np.mean(L[:w])), float(np.mean(L[-w:]))
        rel = (a - b) / abs(a) if a else 0.0
        lr = self._lr()
        lr_txt = f"learning rate {fmt(lr)}" if lr is not None else "the learning rate"
        figs = {"start": a, "end": b, "relative_change": rel, "steps": n, "lr": lr}
        if rel < self.flat_tol:
            out.append(Finding(
                "warning", "loss_flat",
                f"loss barely changing: {a:.4f} -> {b:.4f} ({-rel:+.2%}) over {n} steps: {lr_txt} "
                "is probably too low (or the model cannot learn: see overfit_tiny)",
                suggestion="raise the learning rate 10x at a time (or run doctor.lr_find); check "
                           "the update/weight ratio is near 1e-3", figures=figs))
        else:
            out.append(Finding("ok", "loss_trend",
                               f"loss falls from {fmt(a)} to {fmt(b)} over {n} steps",
                               figures=figs))
        return out

    def _ratio_findings(self):
        out = []
        if not self.param_history:
            return out
        per = {}
        for t, ps in self.param_history:
            for p in ps:
                if p.update_ratio is not None and len(p.shape) >= 2 and math.isfinite(
                        p.update_ratio):
                    per.setdefault(p.name, []).append(p.update_ratio)
        if not per:
            return out
        # skip the first fifth of the samples: adaptive optimizers warm up
        med = {k: float(np.median(v[len(v) // 5:])) for k, v in per.items()}
        lr = self._lr()
        lr_txt = f"learning rate {fmt(lr)}" if lr is not None else "learning rate"
        low = {k: v for k, v in med.items() if v < checks.RATIO_LOW}
        high = {k: v for k, v in med.items() if v > checks.RATIO_HIGH}
        if low:
            k = min(low, key=low.get)
            out.append(Finding(
                "warning", "update_ratio",
                f"update/weight ratio {fmt(low[k])} (median per step) is far below the healthy "
                f"~1e-3 in {len(low)} weight(s): the weights barely move ({lr_txt} too low)",
                layer=k, suggestion="raise the learning rate", figures={"ratio": med}))
        if high:
            k = max(high, key=high.get)
            out.append(Finding(
                "warning", "update_ratio",
                f"update/weight ratio {fmt(high[k])} (median per step) is far above the healthy "
                f"~1e-3 in {len(high)} weight(s): each step rewrites a large part of the weights "
                f"({lr_txt} too high)",
                layer=k, suggestion="lower the learning rate", figures={"ratio": med}))
        if not low and not high:
            vals = sorted(med.values())
            out.append(Finding("ok", "update_ratio",
                               f"update/weight ratios between {fmt(vals[0])} and {fmt(vals[-1])} "
                               "(healthy: ~1e-3, reported outside 1e-5..1e-1)",
                               figures={"ratio": med}))
        return out

    def _grad_findings(self):
        if not self.param_history:
            return []
        return checks.gradient_findings(self.param_history[-1][1],
                                        when=f"at step {self.param_history[-1][0]}")

    def _activation_findings(self):
        out = []
        first = {s.layer: s for s in self.monitor.first()}
        for s in self.monitor.latest():
            f0 = first.get(s.layer)
            rise = s.dead_frac - f0.dead_frac if f0 is not None and s is not f0 else 0.0
            if s.kind in RELU_LIKE and rise >= 0.1 and s.dead_frac >= checks.DEAD_WARN:
                bad = s.dead_frac >= checks.DEAD_ERROR and rise >= 0.2
                out.append(Finding(
                    "warning" if bad else "info", "dead_units_rising",
                    f"dead units rose from {f0.dead_frac:.0%} (step {f0.step}) to "
                    f"{s.dead_frac:.0%} (step {s.step}) of the layer (measured per batch): large "
                    "updates pushed them where the ReLU is 0 for every input"
                    + ("" if bad else " (a quarter to a half is common after the large first "
                                      "steps of RMSprop/Adam; more means a too high learning "
                                      "rate)"), layer=s.layer,
                    suggestion="lower the learning rate (or warm it up), or use LeakyReLU",
                    figures={"first": f0.dead_frac, "last": s.dead_frac}))
            elif s.kind in RELU_LIKE and s.dead_frac >= checks.DEAD_ERROR:
                out.append(Finding(
                    "warning", "dead_units",
                    f"{s.dead_frac:.0%} of the units are dead at step {s.step}", layer=s.layer,
                    suggestion="check the initialization (biases >= 0), lower the learning rate, "
                               "or use LeakyReLU", figures={"dead_frac": s.dead_frac}))
            if s.sat_frac is not None and s.sat_frac >= checks.SAT_ERROR:
                out.append(Finding(
                    "warning", "saturation",
                    f"{s.sat_frac:.0%} of the outputs are saturated at step {s.step}: little "
                    "gradient flows through", layer=s.layer,
                    suggestion="lower the learning rate, use Xavier initialization, BatchNorm",
                    figures={"sat_frac": s.sat_frac}))
        return out

    def _epoch_findings(self):
        out = []
        E = self.epochs
        if len(E) < 2:
            return out
        acc = "accuracy" if "accuracy" in E[-1] else "acc" if "acc" in E[-1] else None
        if acc and "val_" + acc in E[-1]:
            gaps = [e[acc] - e["val_" + acc] for e in E if acc in e and "val_" + acc in e]
            last = E[-1]
            if len(gaps) >= 3 and gaps[-1] > 0.05 and gaps[-1] > gaps[-2] > gaps[-3]:
                out.append(Finding(
                    "warning", "overfitting",
                    f"the train/validation accuracy gap grows: {gaps[-3]:.1%} -> {gaps[-1]:.1%} "
                    f"(train {last[acc]:.1%}, validation {last['val_' + acc]:.1%}): the model "
                    "is memorizing the training set",
                    suggestion="more regularization (weight decay, dropout, data augmentation), "
                               "more data, or early stopping", figures={"gaps": gaps}))
            elif len(gaps) >= 3 and abs(gaps[-1]) < 0.02 and last[acc] < self.underfit_accuracy:
                out.append(Finding(
                    "warning", "underfitting",
                    f"no train/validation gap ({gaps[-1]:+.1%}) and a low training accuracy "
                    f"{last[acc]:.1%}: the model is underfitting",
                    suggestion="more capacity (wider/deeper layers), train longer, less "
                               "regularization, or a higher learning rate",
                    figures={"gaps": gaps, "accuracy": last[acc]}))
        if "val_loss" in E[-1] and len(E) >= 3:
            vl = [e.get("val_loss") for e in E[-3:]]
            tl = [e.get("loss") for e in E[-3:]]
            if None not in vl and None not in tl and vl[2] > vl[1] > vl[0] and tl[2] < tl[0]:
                out.append(Finding(
                    "warning", "overfitting",
                    f"validation loss rises ({fmt(vl[0])} -> {fmt(vl[2])}) while the training "
                    f"loss falls ({fmt(tl[0])} -> {fmt(tl[2])})",
                    suggestion="more regularization or early stopping "
                               "(ember.train.EarlyStopping(restore_best_weights=True))",
                    figures={"val_loss": vl, "loss": tl}))
        return out

    # ---- report -------------------------------------------------------------------------
    def diagnose(self):
        """Every finding so far plus the checks over the whole run (loss trend, update/weight
        ratios, gradients by depth, dead/saturated units, over/underfitting), most severe
        first."""
        run = []
        if self.losses:
            run += self._loss_findings() + self._ratio_findings() + self._grad_findings()
            run += self._activation_findings()
        elif self.monitor.latest():
            # watched forward passes without training steps (``with doctor.watch(): model(x)``):
            # report the activations measured
            run += checks.activation_findings(self.monitor.latest(),
                                              when="in the watched forward pass")
        if self.epochs:
            run += self._epoch_findings()
        seen = {(f.check, f.layer) for f in self.findings if f.severity != "ok"}
        fresh = [f for f in run if (f.check, f.layer) not in seen]
        return sort_findings(self.findings + fresh)

    def report(self, print_report=True, html=None, png_dir=None):
        """The findings (list of :class:`Finding`, most severe first); prints the text report
        unless ``print_report=False``; ``html="path.html"`` writes a self-contained HTML report
        with plots, ``png_dir`` the plots as PNG files (both need matplotlib for plots)."""
        found = self.diagnose()
        if print_report:
            print(format_findings(found))
        if html or png_dir:
            from . import report as _report
            if html:
                _report.write_html(self, html, found)
            if png_dir:
                _report.save_pngs(self, png_dir)
        return found

    def text(self):
        return format_findings(self.diagnose())

    def write_tensorboard(self, log_dir, findings=None):
        """Activation histograms, dead/saturated fractions, the loss and the findings (Text
        tab) into the TensorBoard run ``log_dir``."""
        from .tensorboard import write_doctor
        return write_doctor(self, log_dir, findings)

    def callback(self, stop_on_explode=True, report=True):
        """A :class:`DoctorCallback` for ``Model.fit`` that uses this doctor."""
        return DoctorCallback(self, stop_on_explode=stop_on_explode, report=report)


class DoctorCallback(Callback):
    """``Model.fit(..., callbacks=[DoctorCallback()])``: watches training, prints findings as
    they appear, stops training (``model.stop_training = True``) when the loss explodes or
    becomes NaN, and prints the report at the end (``report=False`` to skip).

    DoctorCallback(doctor=None, stop_on_explode=True, report=True, tensorboard=None,
    **doctor_kwargs): without a doctor one is made for the fitted model with ``doctor_kwargs``
    (e.g. every=10); ``tensorboard="log_dir"`` writes its histograms and findings there.
    The doctor is ``callback.doctor``; its findings ``callback.doctor.findings``.
    """

    def __init__(self, doctor=None, stop_on_explode=True, report=True, tensorboard=None,
                 **doctor_kwargs):
        self.doctor = doctor
        self.tensorboard = tensorboard  # a log dir: the doctor's measurements go there at the end
        self.stop_on_explode = stop_on_explode
        self.print_report = report
        self._kwargs = doctor_kwargs
        self.findings = []

    def set_model(self, model):
        super().set_model(model)
        if self.doctor is None:
            self.doctor = Doctor(model, **self._kwargs)

    def on_train_begin(self, logs=None):
        self.doctor.reset_training()
        self.doctor.attach()

    def on_train_batch_end(self, batch, logs=None):
        if not logs or "loss" not in logs:
            return
        self.doctor.step(logs["loss"])
        if self.doctor.should_stop and self.stop_on_explode:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.doctor.epoch_end(logs)

    def on_train_end(self, logs=None):
        self.doctor.detach()
        self.findings = self.doctor.report(print_report=self.print_report)
        if self.tensorboard:
            self.doctor.write_tensorboard(self.tensorboard, self.findings)
