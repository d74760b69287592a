"""Caffe's solver: read a solver prototxt, build the train and test nets it names, and run
Caffe's loop, with Caffe's log lines, tests, snapshots and resume.

Per iteration (Caffe's Solver::Step): test every ``test_interval`` iterations (and at 0 when
``test_initialization``); forward/backward ``iter_size`` batches; log the loss smoothed over
``average_loss`` iterations every ``display``; update with the policy's rate (clip, normalise
by iter_size, regularise, the type's rule); after the increment, snapshot every ``snapshot``
iterations to ``{snapshot_prefix}_iter_{N}.caffemodel`` / ``.solverstate``. At the end: a
snapshot (``snapshot_after_train``), a last loss line and test, "Optimization Done.".
"""
import math
import os
import time
from typing import Dict, List, Optional

import numpy as np

from ..autograd import no_grad
from .errors import CaffeError, PrototxtError
from .log import CaffeLog
from .lr_policy import LearningRate, check_policy
from .message import Msg, build, read_text
from .net import Net
from .snapshot import (learned_net_path, load_caffemodel, load_solverstate, save_caffemodel,
                       save_solverstate)
from .textformat import parse
from .updates import Updater, solver_type


def read_solver(path) -> Msg:
    """Parse a solver prototxt; a net file given by mistake is named as such."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CaffeError(f"{path}: no such file (the solver prototxt; paths are relative to "
                         f"the working directory {os.getcwd()}, as in Caffe)")
    with open(path, encoding="utf-8") as fh:
        raw = parse(fh.read(), path)
    if any(f.name in ("layer", "layers") for f in raw.fields):
        raise CaffeError(f"{path} is a net definition, not a solver: ember train takes the "
                         f"solver prototxt (whose 'net:' field names the net)")
    return build(raw, "SolverParameter", path)


def _check(sp: Msg) -> None:
    for k in ("base_lr", "max_iter"):
        if not sp.has(k):
            raise CaffeError(f"{sp.where()}: the solver needs {k}")
    if sp.max_iter < 0:
        raise CaffeError(f"{sp.where('max_iter')}: max_iter must be >= 0")
    check_policy(sp)
    if sp.regularization_type not in ("L1", "L2"):
        raise CaffeError(f"{sp.where('regularization_type')}: unknown regularization_type "
                         f"'{sp.regularization_type}'; supported: L1, L2")
    for k, lo in (("iter_size", 1), ("average_loss", 1), ("display", 0), ("snapshot", 0),
                  ("test_interval", 0)):
        if getattr(sp, k) < lo:
            raise CaffeError(f"{sp.where(k)}: {k} must be >= {lo}")
    if sp.snapshot_format != "BINARYPROTO":
        raise CaffeError(f"{sp.where('snapshot_format')}: snapshot_format HDF5 is not "
                         f"supported; use BINARYPROTO")


class Solver:
    """Caffe's solver over ember nets. ``Solver(path).solve(resume=None)``."""

    def __init__(self, param, log: Optional[CaffeLog] = None, solver_path: str = "",
                 weights: Optional[str] = None):
        from .. import manual_seed
        sp = param if isinstance(param, Msg) else read_solver(param)
        solver_path = solver_path or (param if not isinstance(param, Msg) else "")
        self.sp, self.log, self.path = sp, log or CaffeLog(), os.fspath(solver_path)
        _check(sp)
        self.type = solver_type(sp)
        if sp.random_seed >= 0:
            manual_seed(sp.random_seed)
        if sp.solver_mode == "GPU":
            self.log.warning("solver_mode: GPU, but ember has no GPU backend available for "
                             "Caffe nets; running on the CPU (set solver_mode: CPU to "
                             "silence this)")
        self.log.info(f"Using solver type {self.type}; learning rate policy {sp.lr_policy}")
        train_param, test_params = self._net_params()
        ts = sp.train_state
        self.net = self._build(train_param, "TRAIN", ts.level, ts.stage, None, "training")
        self.test_nets = []
        for i, tp in enumerate(test_params):
            st = sp.test_state[i] if i < len(sp.test_state) else Msg("NetState")
            self.test_nets.append(self._build(tp, "TEST", st.level, st.stage, self.net,
                                              f"test net (#{i})"))
        sources = list(sp.weights) + (weights.split(",") if weights else [])
        if sources:
            for w in sources:
                copied = load_caffemodel(w, self.net)
                self.log.info(f"Copying weights from {w}: layers {', '.join(copied)}")
        self.blobs = self.net.learnable_blobs()
        self.updater = Updater(self.type, sp, [tuple(t.shape) for _, t, _, _ in self.blobs])
        self.lr = LearningRate(sp)
        self.iter = 0
        self.prefix = self._snapshot_prefix()
        self.log.info("Solver scaffolding done.")

    # ---- setup --------------------------------------------------------------------------
    def _net_params(self):
        sp = self.sp
        sources = [k for k in ("train_net_param", "train_net", "net_param", "net") if sp.has(k)]
        if len(sources) != 1:
            raise CaffeError(f"{sp.where()}: give exactly one train net (net, train_net, "
                             f"net_param or train_net_param); found "
                             f"{', '.join(sources) or 'none'}")

        def load(field):
            v = getattr(sp, field)
            if isinstance(v, Msg):
                return v
            self.log.info(f"Creating net from net file: {v}")
            return read_text(v, "NetParameter")

        train = load(sources[0])
        tests = list(sp.test_net_param) + [read_text(p, "NetParameter") for p in sp.test_net]
        n_iter = len(sp.test_iter)
        if sp.has("net") or sp.has("net_param"):
            generic = sp.net_param if sp.has("net_param") else None
            while len(tests) < n_iter:
                tests.append(generic if generic is not None else train)
        if len(tests) != n_iter:
            raise CaffeError(f"{sp.where('test_iter')}: {n_iter} test_iter values for "
                             f"{len(tests)} test nets (give one per test net)")
        if tests and sp.test_interval == 0:
            self.log.info("test_interval is 0: the test nets run only if asked")
        return train, tests

    def _build(self, param, phase, level, stages, share_with, what):
        self.log.info(f"Initializing {what} '{param.name}' (phase {phase})", "net.py")
        net = Net(param, phase, level, stages, share_with)
        for layer in net.layers:
            for t in layer.lp.top:
                s = net.blob_shapes[t]
                dims = " ".join(map(str, s)) + " " if s else ""
                self.log.info(f"{layer.name} -> {t}: top shape {dims}({int(np.prod(s))})",
                              "net.py")
        self.log.info(f"Network initialization done ({len(net.layers)} layers; outputs "
                      f"{', '.join(net.outputs) or 'none'}).", "net.py")
        return net

    def _snapshot_prefix(self):
        sp = self.sp
        prefix = sp.snapshot_prefix
        if not prefix:
            prefix = os.path.splitext(self.path)[0] if self.path else "ember_caffe"
        elif prefix.endswith(("/", os.sep)):
            prefix = os.path.join(prefix, os.path.splitext(os.path.basename(self.path))[0]
                                  or "snapshot")
        d = os.path.dirname(prefix)
        if sp.snapshot or sp.snapshot_after_train:
            if d and not os.path.isdir(d):
                try:
                    os.makedirs(d)
                    self.log.info(f"Created the snapshot folder {d}")
                except OSError as e:
                    raise CaffeError(f"{sp.where('snapshot_prefix')}: cannot create the "
                                     f"snapshot folder {d}: {e}") from None
            if not os.access(d or ".", os.W_OK):
                raise CaffeError(f"{sp.where('snapshot_prefix')}: cannot write snapshots to "
                                 f"{d or os.getcwd()}")
        return prefix

    # ---- the loop -----------------------------------------------------------------------
    def solve(self, resume: Optional[str] = None) -> Dict[str, float]:
        sp = self.sp
        self.log.info(f"Solving {self.net.name}")
        self.log.info(f"Learning Rate Policy: {sp.lr_policy}")
        if resume:
            self.restore(resume)
        self.step(sp.max_iter - self.iter)
        if sp.snapshot_after_train and (not sp.snapshot or self.iter % sp.snapshot != 0):
            self.snapshot()
        if sp.display and self.iter % sp.display == 0:
            with no_grad():
                self.net.forward()
            self.log.info(f"Iteration {self.iter}, loss = {float(self.net.loss.data):g}")
        results = {}
        if sp.test_interval and self.iter % sp.test_interval == 0:
            results = self.test_all()
        self.log.info("Optimization Done.")
        return results

    def step(self, iters: int) -> None:
        sp = self.sp
        start, stop = self.iter, self.iter + max(iters, 0)
        losses: List[float] = []
        smoothed = 0.0
        t0 = time.perf_counter()
        while self.iter < stop:
            if sp.test_interval and self.iter % sp.test_interval == 0 and \
                    (self.iter > 0 or sp.test_initialization):
                self.test_all()
            display = sp.display and self.iter % sp.display == 0
            for _, t, _, _ in self.blobs:
                t.grad = None
            loss = 0.0
            for _ in range(sp.iter_size):
                blobs = self.net.forward()
                if self.net.loss is None:
                    raise CaffeError(f"the train net '{self.net.name}' has no loss (no layer "
                                     f"with a loss_weight)")
                self.net.loss.backward()
                loss += float(self.net.loss.data)
            loss /= sp.iter_size
            if not math.isfinite(loss):
                self.log.warning(f"Iteration {self.iter}: the loss is {loss}")
            # Caffe's running mean of the last average_loss losses
            if len(losses) < sp.average_loss:
                losses.append(loss)
                smoothed = (smoothed * (len(losses) - 1) + loss) / len(losses)
            else:
                j = (self.iter - start) % sp.average_loss
                smoothed += (loss - losses[j]) / sp.average_loss
                losses[j] = loss
            if display:
                dt = time.perf_counter() - t0
                n = sp.display if self.iter > start else 1
                rate = n / dt if dt > 0 else float("inf")
                self.log.info(f"Iteration {self.iter} ({rate:g} iter/s, {dt:g}s/{sp.display} "
                              f"iters), loss = {smoothed:g}")
                t0 = time.perf_counter()
                self._log_outputs("Train", self.net, {k: _value(blobs[k])
                                                      for k in self.net.outputs})
            self.apply_update(display)
            self.iter += 1
            if sp.snapshot and self.iter % sp.snapshot == 0:
                self.snapshot()

    def apply_update(self, display: bool) -> None:
        sp = self.sp
        rate = self.lr.rate(self.iter)
        if display:
            self.log.info(f"Iteration {self.iter}, lr = {rate:g}")
        grads = []
        for _, t, _, _ in self.blobs:
            g = t.grad.data if t.grad is not None else None
            grads.append(None if g is None else g / sp.iter_size if sp.iter_size > 1 else
                         g.copy())
        if sp.clip_gradients >= 0:
            l2 = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum())
                               for g in grads if g is not None))
            if l2 > sp.clip_gradients:
                f = sp.clip_gradients / l2
                self.log.info(f"Gradient clipping: scaling down gradients (L2 norm {l2:g} > "
                              f"{sp.clip_gradients:g}) by scale factor {f:g}")
                grads = [None if g is None else g * f for g in grads]
        wd = float(sp.weight_decay)
        with no_grad():
            for i, ((_, t, lr_mult, decay_mult), g) in enumerate(zip(self.blobs, grads)):
                if g is None:
                    if lr_mult == 0:
                        continue
                    g = np.zeros_like(t.data)
                w = t.data
                local_decay = wd * decay_mult
                if local_decay:
                    g = g + local_decay * (w if sp.regularization_type == "L2" else np.sign(w))
                self.updater.update(i, w, g.astype(w.dtype, copy=False), rate * lr_mult,
                                    self.iter)
                t._vb[0] += 1  # in-place change: bump the version, as ember.optim does

    # ---- testing ------------------------------------------------------------------------
    def test_all(self) -> Dict[str, float]:
        out = {}
        for i, net in enumerate(self.test_nets):
            out.update(self.test(i))
        return out

    def test(self, i: int) -> Dict[str, float]:
        sp, net = self.sp, self.test_nets[i]
        self.log.info(f"Iteration {self.iter}, Testing net (#{i})")
        sums: Dict[str, np.ndarray] = {}
        loss = 0.0
        n = sp.test_iter[i]
        with no_grad():
            for _ in range(n):
                blobs = net.forward()
                if sp.test_compute_loss and net.loss is not None:
                    loss += float(net.loss.data)
                for k in net.outputs:
                    v = _value(blobs[k])
                    sums[k] = sums[k] + v if k in sums else v
        if sp.test_compute_loss:
            self.log.info(f"Test loss: {loss / max(n, 1):g}")
        means = {k: v / max(n, 1) for k, v in sums.items()}
        return self._log_outputs("Test", net, means)

    def _log_outputs(self, what, net, values) -> Dict[str, float]:
        weights = {t: w for _, t, w in net.loss_weights}
        out, k = {}, 0
        for name in net.outputs:
            for x in np.atleast_1d(values[name]).reshape(-1):
                x = float(x)
                w = weights.get(name, 0.0)
                extra = f" (* {w:g} = {w * x:g} loss)" if w else ""
                self.log.info(f"    {what} net output #{k}: {name} = {x:g}{extra}")
                out[name] = x
                k += 1
        return out

    # ---- snapshots ----------------------------------------------------------------------
    def snapshot(self) -> str:
        model = f"{self.prefix}_iter_{self.iter}.caffemodel"
        self.log.info(f"Snapshotting to binary proto file {model}")
        save_caffemodel(model, self.net)
        state = f"{self.prefix}_iter_{self.iter}.solverstate"
        self.log.info(f"Snapshotting solver state to binary proto file {state}")
        save_solverstate(state, self.iter, model, self.updater.history, self.lr.current_step)
        return state

    def restore(self, path) -> None:
        self.log.info(f"Restoring previous solver status from {path}")
        if not os.fspath(path).endswith(".solverstate"):
            raise CaffeError(f"{path}: --snapshot takes a .solverstate file")
        state = load_solverstate(path)
        model = learned_net_path(state, path)
        if model:
            load_caffemodel(model, self.net)
        hist = state.history
        if len(hist) != len(self.updater.history):
            raise CaffeError(f"{path}: {len(hist)} history blobs for a {self.type} solver "
                             f"over {len(self.blobs)} blobs (expected "
                             f"{len(self.updater.history)}); was it written for this net "
                             f"and solver type?")
        from .blob import blob_to_array
        for j, b in enumerate(hist):
            arr = blob_to_array(b)
            want = self.updater.history[j].shape
            if arr.size != int(np.prod(want)):
                raise CaffeError(f"{path}: history blob {j} has shape {arr.shape}, the net's "
                                 f"blob {self.blobs[j % len(self.blobs)][0]} is {want}")
            self.updater.history[j] = arr.reshape(want).astype(np.float32)
        self.iter = int(state.iter)
        self.lr.current_step = int(state.current_step)
        self._seek_data()

    def _seek_data(self):
        """Put each Data layer where an uninterrupted run would be at this iteration
        (Caffe itself restarts its databases; ember continues them)."""
        sp = self.sp
        for layer in self.net.data_layers():
            layer.db.seek(self.iter * sp.iter_size * layer.batch_size)
        if sp.test_interval:
            first = 0 if sp.test_initialization else sp.test_interval
            tests = len(range(first, self.iter, sp.test_interval))
            for i, net in enumerate(self.test_nets):
                for layer in net.data_layers():
                    layer.db.seek(tests * sp.test_iter[i] * layer.batch_size)


def _value(t):
    return np.asarray(t.data, np.float64).copy()
