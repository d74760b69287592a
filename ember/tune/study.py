"""``run`` a search and ``refine`` it, coarse to fine, on an Optuna study.

The lectures' method: random search beats grid search (every trial tries a new value of each
important hyperparameter), search learning rate and regularization on a log scale, run a coarse
stage with few epochs, then a fine stage in a narrower space around the best trials, and stop
diverging trials early. Every trial is tagged with its stage (``trial.user_attrs["stage"]``) and
its seed, so both stages live in one study and any trial can be re-run.
"""
import math
from typing import Callable, Optional

from ._optuna import optuna
from .pruners import ExplodingLossPruner
from .space import Choice, IntRange, LogUniform, Uniform, check_space, from_dict

SAMPLERS = ("random", "grid", "tpe")
SURPLUS_PREFIX = "surplus:"  # stage tag of a trial cancelled because its stage was full
_DEFAULT_PRUNER = object()
# sqlite/RDB storages: a worker that dies leaves a RUNNING trial; its heartbeat stops and after the
# grace period any other worker marks it failed and re-queues its parameters once.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30


def make_storage(storage, heartbeat: int = HEARTBEAT_SECONDS, grace: int = GRACE_SECONDS):
    """An Optuna storage from a URL (``sqlite:///study.db``, ``postgresql://...``) with
    heartbeats, so trials of a killed worker are failed and retried, not left RUNNING; other
    values (None, an Optuna storage object) are returned as they are."""
    if isinstance(storage, str):
        import warnings
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return _rdb_storage(storage, heartbeat, grace)
    return storage


def _rdb_storage(url, heartbeat, grace):
    if "://" not in url:
        raise ValueError(f"storage {url!r}: give an RDB URL such as sqlite:///study.db or "
                         "postgresql://user@host/db")
    return optuna.storages.RDBStorage(
        url, heartbeat_interval=heartbeat, grace_period=grace,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=1))


def _sampler(sampler, space, seed, grid_points):
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if sampler == "grid":
        return optuna.samplers.GridSampler({n: d.grid(grid_points) for n, d in space.items()},
                                           seed=seed)
    raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)} or an Optuna sampler, "
                     f"got {sampler!r}")


def _count(study, stage, states):
    return sum(1 for t in study.get_trials(deepcopy=False, states=states)
               if t.user_attrs.get("stage") == stage)


def run(objective: Callable, space: dict, n_trials: Optional[int] = None, sampler="random",
        direction: str = "minimize", storage=None, study_name: Optional[str] = None,
        pruner=_DEFAULT_PRUNER, *, seed: Optional[int] = None, stage: str = "search",
        study=None, grid_points: int = 5, catch=(Exception,)):
    """Search ``space`` for the best value of ``objective(trial)``; returns the Optuna study
    (``study.best_params``, ``study.best_value``, ``study.trials_dataframe()``).

    Before ``objective`` is called, every dimension of ``space`` has been sampled into
    ``trial.params``; the objective trains with them, may ``trial.report(loss, step)`` so the
    pruner can stop it (``ExplodingLossPruner()`` by default: the lectures' 3x-initial-loss
    rule; ``pruner=None`` for none), and returns the value to optimise.

    ``n_trials`` counts the trials of this ``stage`` in the study: with several workers sharing
    a ``storage`` URL (``sqlite:///study.db`` locally, a PostgreSQL URL across machines) each
    worker runs ``run`` with the same arguments and together they run ``n_trials``; a restart
    continues where the study stopped. With ``sampler="grid"``, ``loguniform``/``uniform``
    dimensions are cut into ``grid_points`` values and ``n_trials=None`` runs the whole grid.
    ``seed`` makes the sampler reproducible and gives trial k the training seed ``seed + k``
    (``trial.user_attrs["seed"]``). Pass ``study=`` to add a stage to an existing study.
    """
    check_space(space)
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    if n_trials is not None and (not isinstance(n_trials, int) or n_trials < 1):
        raise ValueError(f"n_trials must be a positive int, got {n_trials!r}")
    if n_trials is None and sampler != "grid":
        raise ValueError("n_trials is required unless sampler='grid' (which runs the whole grid)")
    if pruner is _DEFAULT_PRUNER:
        pruner = ExplodingLossPruner()
    smp = _sampler(sampler, space, seed, grid_points)
    if study is None:
        study = optuna.create_study(storage=make_storage(storage), sampler=smp,
                                    pruner=pruner or optuna.pruners.NopPruner(),
                                    study_name=study_name, direction=direction,
                                    load_if_exists=study_name is not None)
    else:
        study.sampler = smp
        study.pruner = pruner or optuna.pruners.NopPruner()
    _remember_stage(study, stage, space, direction)
    if sampler == "grid":
        size = math.prod(len(d.grid(grid_points)) for d in space.values())
        n_trials = size if n_trials is None else min(n_trials, size)

    base_seed = seed

    done_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    live_states = done_states + (optuna.trial.TrialState.RUNNING,)

    def wrapped(trial):
        trial.set_user_attr("stage", stage)
        # workers sharing a storage: a trial that finds the stage already full (counting the
        # others registered before it looked) is cancelled before any training, so a stage
        # never runs more than n_trials; if two cancel each other, the caller's next round
        # runs the missing one
        others = sum(1 for t in study.get_trials(deepcopy=False, states=live_states)
                     if t.user_attrs.get("stage") == stage and t.number != trial.number)
        if others >= n_trials:
            trial.set_user_attr("stage", SURPLUS_PREFIX + stage)
            study.stop()
            raise optuna.TrialPruned(f"stage {stage!r} already has {n_trials} trials")
        if base_seed is not None:
            trial.set_user_attr("seed", base_seed + trial.number)
        for name, dim in space.items():
            dim.suggest(trial, name)
        return objective(trial)

    def stop_when_full(st, _trial):
        # shared storages: other workers' trials count too (running ones included, so two
        # workers do not both start the last trial)
        if _count(st, stage, live_states) >= n_trials:
            st.stop()

    # running trials count (another worker is on them); a failed one re-queued as WAITING does
    # not, so some worker picks it up
    remaining = n_trials - _count(study, stage, live_states)
    if remaining > 0:
        study.optimize(wrapped, n_trials=remaining, catch=catch, callbacks=[stop_when_full])
    return study


def _remember_stage(study, stage, space, direction):
    stages = list(study.user_attrs.get("stages", []))
    if stage not in stages:
        stages.append(stage)
        study.set_user_attr("stages", stages)
    study.set_user_attr(f"space:{stage}", {n: d.to_dict() for n, d in space.items()})


def stage_space(study, stage: str) -> dict:
    """The space a stage of ``study`` searched (as given to ``run``)."""
    raw = study.user_attrs.get(f"space:{stage}")
    if raw is None:
        raise ValueError(f"the study has no stage {stage!r} (stages: "
                         f"{', '.join(study.user_attrs.get('stages', [])) or 'none'})")
    return {n: from_dict(n, spec) for n, spec in raw.items()}


def best_trials(study, top_k: int, stage: Optional[str] = None) -> list:
    """The ``top_k`` best finished trials (of ``stage``, if given), best first."""
    trials = [t for t in study.get_trials(deepcopy=False,
                                          states=(optuna.trial.TrialState.COMPLETE,))
              if t.value is not None and math.isfinite(t.value)
              and (stage is None or t.user_attrs.get("stage") == stage)]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    trials.sort(key=lambda t: t.value, reverse=maximize)
    return trials[:top_k]


def refine(study, top_k: int = 3, shrink: float = 0.5, stage: Optional[str] = None) -> dict:
    """A narrower space around the ``top_k`` best trials of ``stage`` (default: the last stage).

    For each numeric dimension, in its own scale (log for ``loguniform``): the new range spans
    the top trials' values and is at least ``shrink`` x the old width, centred on them and kept
    inside the old range. A ``choice`` keeps its options (Optuna does not allow a categorical
    dimension to change within a study); a model-based sampler (``tpe``) then favours the good
    ones.
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"refine: top_k must be a positive int, got {top_k!r}")
    if not 0 < shrink <= 1:
        raise ValueError(f"refine: shrink must be in (0, 1], got {shrink!r}")
    stages = study.user_attrs.get("stages", [])
    stage = stage or (stages[-1] if stages else None)
    if stage is None:
        raise ValueError("refine: the study has no stages run by ember.tune.run")
    space = stage_space(study, stage)
    top = best_trials(study, top_k, stage)
    if not top:
        raise ValueError(f"refine: stage {stage!r} has no completed trial to refine around")
    out = {}
    for name, dim in space.items():
        values = [t.params[name] for t in top if name in t.params]
        out[name] = _narrow(dim, values, shrink) if values else dim
    return out


def _narrow(dim, values, shrink):
    if isinstance(dim, Choice):
        return dim
    log = isinstance(dim, LogUniform) or (isinstance(dim, IntRange) and dim.log)
    f = math.log if log else float
    inv = math.exp if log else float
    lo, hi = f(dim.lo), f(dim.hi)
    vlo, vhi = min(map(f, values)), max(map(f, values))
    width = max(vhi - vlo, shrink * (hi - lo))
    centre = (vlo + vhi) / 2
    a, b = centre - width / 2, centre + width / 2
    if a < lo:
        a, b = lo, min(hi, lo + width)
    if b > hi:
        a, b = max(lo, hi - width), hi
    if isinstance(dim, IntRange):
        ia, ib = math.floor(inv(a) + 1e-9), math.ceil(inv(b) - 1e-9)
        ia, ib = max(ia, dim.lo), min(ib, dim.hi)
        if ia >= ib:  # a one-value range: keep the neighbours so the range stays valid
            ia, ib = max(dim.lo, ia - 1), min(dim.hi, ib + 1)
        return IntRange(ia, ib, dim.log)
    return type(dim)(inv(a), inv(b)) if not isinstance(dim, Uniform) else Uniform(a, b)
