"""One search trial over an ``ember train`` config: the config with this trial's values written
in, trained on a fixed training subset, scored on a fixed validation subset.

Every trial of a search sees the same examples (one permutation drawn with seed 0), so trials
differ only by their hyperparameters and their own training seed; the test split is never used
for choosing (that would make the final test score optimistic).
"""
import copy
import math
import os
from typing import Optional

import numpy as np

from ..cli import config as _config
from . import toml_out

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None


def read_toml(path):
    if tomllib is None:  # pragma: no cover
        raise _config.ConfigError("reading TOML needs Python >= 3.11 or the 'tomli' package")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise _config.ConfigError(f"{path}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise _config.ConfigError(f"{path}: not valid TOML: {e}") from None


def apply_overrides(raw: dict, params: dict) -> dict:
    """A copy of the raw config with dotted keys set: ``solver.base_lr``, ``data.layout``,
    ``model.layers.0.out_features`` (layer index, then the layer's key)."""
    cfg = copy.deepcopy(raw)
    for key, value in params.items():
        parts = key.split(".")
        if parts[0] == "model":
            if len(parts) != 4 or parts[1] != "layers" or not parts[2].isdigit():
                raise _config.ConfigError(f"search key {key!r}: model keys are "
                                          "model.layers.<index>.<name>")
            layers = cfg.get("model", {}).get("layers", [])
            i = int(parts[2])
            if i >= len(layers):
                raise _config.ConfigError(f"search key {key!r}: the config has {len(layers)} "
                                          "layers")
            layers[i][parts[3]] = value
        elif len(parts) == 2 and parts[0] in ("data", "solver"):
            cfg.setdefault(parts[0], {})[parts[1]] = value
        else:
            raise _config.ConfigError(f"search key {key!r}: use solver.<key>, data.<key> or "
                                      "model.layers.<index>.<key>")
    return cfg


def write_trial_config(raw: dict, params: dict, path: str, extra: Optional[dict] = None) -> dict:
    """Write the trial's config to ``path`` and validate it as ``ember train`` would; returns the
    validated config."""
    cfg = apply_overrides(raw, {**params, **(extra or {})})
    text = toml_out.dumps(cfg)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return _config.load_config(path)


def split_indices(n: int, train_limit: Optional[int], validation_size: int):
    """(train, validation) indices: one fixed permutation (seed 0) of the training set."""
    if validation_size < 1 or validation_size >= n:
        raise ValueError(f"validation_size must be in [1, {n - 1}] for {n} training examples, "
                         f"got {validation_size}")
    perm = np.random.default_rng(0).permutation(n)
    val, rest = perm[:validation_size], perm[validation_size:]
    if train_limit is not None:
        rest = rest[:train_limit]
    return np.sort(rest), np.sort(val)


_DATA_CACHE = {}


def _data(cfg):
    from ..cli.train import load_data
    d = cfg["data"]
    # every [data] key (sequence tasks have their own); "sizes" is what load_data adds
    key = repr(sorted((k, v) for k, v in d.items() if k != "sizes"))
    if key not in _DATA_CACHE:  # a worker runs many trials on the same data
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = (load_data(cfg), dict(d.get("sizes", {})))
    arrays, sizes = _DATA_CACHE[key]
    if sizes:  # a sequence task's vocabulary / classes, for the layers' "data.NAME" sizes
        d["sizes"] = dict(sizes)
    return arrays


def train_trial(cfg: dict, epochs: int, seed: int, run_dir: str, trial=None,
                train_limit: Optional[int] = None, validation_size: int = 10000,
                report_every: int = 10, hparams: Optional[dict] = None,
                tensorboard: bool = True, verbose: int = 0) -> dict:
    """Train the validated config ``cfg`` for ``epochs`` and return the final epoch's logs
    (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).

    With an Optuna ``trial``, the training loss is reported every ``report_every`` batches and
    the trial is stopped (``optuna.TrialPruned``) when the study's pruner says so."""
    from .. import manual_seed
    from ..cli.train import build_model, loss_and_metrics, lr_factor, make_optimizer, \
        param_groups
    from ..train import LambdaCallback, Model
    from ..train.callbacks import Callback
    from ..train.tensorboard import TensorBoard

    solver = cfg["solver"]
    xtr, ytr, _, _ = _data(cfg)
    tr, va = split_indices(len(xtr), train_limit, validation_size)
    x, y, xv, yv = xtr[tr], ytr[tr], xtr[va], ytr[va]
    manual_seed(seed)
    net, mults = build_model(cfg)
    model = Model(net)
    opt = make_optimizer(param_groups(net, mults, solver), solver)
    loss, metrics = loss_and_metrics(solver)   # images: cross_entropy and accuracy
    model.compile(optimizer=opt, loss=loss, metrics=metrics)

    steps = math.ceil(len(x) / solver["batch_size"])
    factor = lr_factor(solver, steps * epochs)
    base = [g["lr"] for g in opt.param_groups]
    state = {"t": 0}

    def set_lr(batch, logs):  # Caffe's per-iteration policies, as ember train applies them
        f = factor(state["t"])
        for g, b in zip(opt.param_groups, base):
            g["lr"] = b * f
        state["t"] += 1

    class Report(Callback):
        def on_train_batch_end(self, batch, logs=None):
            # the first batch's loss is the initial loss the 3x rule compares with
            if trial is None or (state["t"] != 1 and state["t"] % report_every):
                return
            loss = float((logs or {}).get("loss", float("nan")))
            trial.report(loss, state["t"])
            if trial.should_prune():
                from ._optuna import optuna
                raise optuna.TrialPruned(f"loss {loss:.4g} at iteration {state['t']}")

    callbacks = [LambdaCallback(on_train_batch_begin=set_lr), Report()]
    if tensorboard:
        callbacks.append(TensorBoard(os.path.join(run_dir, "tensorboard"), hparams=hparams))
    with np.errstate(all="ignore"):  # a diverging trial's overflow is the pruner's business
        hist = model.fit(x, y, batch_size=solver["batch_size"], epochs=epochs,
                         validation_data=(xv, yv), callbacks=callbacks, verbose=verbose)
    return {k: float(v[-1]) for k, v in hist.history.items() if v}
