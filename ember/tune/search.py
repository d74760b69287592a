"""``ember search``: run the stages of a SEARCH.toml as one worker of a shared Optuna study.

Each worker process (``--workers N`` on one machine, or the same command on several machines
that share a storage URL) runs the stages in order. Before a stage that refines the one before
it, a worker waits until that stage has no running trial, so every worker narrows the space from
the same finished trials. A worker that dies leaves a running trial whose heartbeat stops; after
the grace period another worker fails it and runs its parameters again, so no finished trial is
lost and none is counted twice.
"""
import math
import os
import time

from ._optuna import optuna
from .config_trial import read_toml, train_trial, write_trial_config
from .pruners import ExplodingLossPruner
from .study import make_storage, refine, run

_STATES = optuna.trial.TrialState


def storage_url(sc, override=None):
    url = override or sc.storage
    if url is None:
        os.makedirs(sc.out, exist_ok=True)
        url = "sqlite:///" + os.path.abspath(os.path.join(sc.out, "study.db"))
    return url


def open_study(sc, url):
    storage = make_storage(url, sc.heartbeat, sc.grace_period)
    return optuna.create_study(storage=storage, study_name=sc.study_name,
                               direction=sc.direction, load_if_exists=True)


def _pruner(sc):
    return ExplodingLossPruner(sc.prune_ratio) if sc.prune_ratio else None


def _sampler(sc, stage, space, worker_index):
    name = stage.sampler or sc.sampler
    seed = sc.seed + 7919 * worker_index  # workers must not draw the same sequence
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return "grid"


def make_objective(sc, stage, verbose=0):
    base = read_toml(sc.config)

    def objective(trial):
        params = {k: trial.params[k] for k in sc.space}
        seed = trial.user_attrs["seed"]
        trial.set_user_attr("epochs", stage.epochs)
        logs = run_trial(sc, base, params, seed, stage.epochs, trial.number, trial, verbose)
        for k, v in logs.items():
            trial.set_user_attr(k, v)
        value = logs.get(sc.metric, float("nan"))
        if not math.isfinite(value):
            raise optuna.TrialPruned(f"{sc.metric} is {value}")
        return value

    return objective


def run_trial(sc, base, params, seed, epochs, number, trial=None, verbose=0, run_dir=None):
    """Train one trial's config; returns its final logs. Leaves the trial's config.toml and
    TensorBoard run (with its hparams) in ``<out>/trials/<number>``."""
    run_dir = run_dir or os.path.join(sc.out, "trials", f"{number:04d}")
    os.makedirs(run_dir, exist_ok=True)
    cfg = write_trial_config(base, params, os.path.join(run_dir, "config.toml"),
                             extra={"solver.seed": seed, "solver.max_epochs": epochs})
    hparams = {**params, "seed": seed, "epochs": epochs}
    return train_trial(cfg, epochs, seed, run_dir, trial, train_limit=sc.train_limit,
                       validation_size=sc.validation_size, report_every=sc.report_every,
                       hparams=hparams, tensorboard=sc.tensorboard, verbose=verbose)


def _stage_trials(study, name):
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("stage") == name]


def _settled(study, stage):
    trials = _stage_trials(study, stage.name)
    busy = any(t.state in (_STATES.RUNNING, _STATES.WAITING) for t in trials)
    done = sum(t.state in (_STATES.COMPLETE, _STATES.PRUNED) for t in trials)
    return not busy and done >= stage.trials, any(t.state == _STATES.WAITING for t in trials)


def work(sc, url, worker_index=0, verbose=0, poll_seconds=1.0):
    """Run every stage of the search as one worker; returns the study."""
    study = open_study(sc, url)
    previous = None
    for stage in sc.stages:
        if stage.refine_top_k:
            space = refine(study, stage.refine_top_k, stage.shrink, stage=previous.name)
        else:
            space = sc.space
        objective = make_objective(sc, stage, verbose)
        while True:
            run(objective, space, stage.trials, sampler=_sampler(sc, stage, space, worker_index),
                direction=sc.direction, pruner=_pruner(sc), seed=sc.seed, stage=stage.name,
                study=study, grid_points=sc.grid_points)
            _fail_stale(study)
            settled, waiting = _settled(study, stage)
            if settled:
                break
            if not waiting:  # other workers are still running this stage's last trials
                time.sleep(poll_seconds)
        previous = stage
    return study


def _fail_stale(study):
    import warnings
    with warnings.catch_warnings():  # Optuna marks this call experimental; it has been since 2.9
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)


def rerun(sc, url, number, verbose=0):
    """Train trial ``number`` again from its recorded seed and parameters; returns
    (recorded value, new logs)."""
    study = open_study(sc, url)
    matches = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not matches:
        raise ValueError(f"the study {sc.study_name!r} has no trial {number} "
                         f"({len(study.trials)} trials)")
    t = matches[0]
    if "seed" not in t.user_attrs or "epochs" not in t.user_attrs:
        raise ValueError(f"trial {number} has no recorded seed/epochs (not run by ember search)")
    params = {k: t.params[k] for k in sc.space if k in t.params}
    run_dir = os.path.join(sc.out, "reruns", f"{number:04d}-{time.strftime('%Y%m%d-%H%M%S')}")
    logs = run_trial(sc, read_toml(sc.config), params, t.user_attrs["seed"],
                     t.user_attrs["epochs"], number, None, verbose, run_dir=run_dir)
    return t.value, logs
