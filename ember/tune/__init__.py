"""Hyperparameter search on Optuna (the optional extra ``ember[tune]``).

::

    import ember.tune as tune

    space = {"lr": tune.loguniform(1e-4, 1e-1), "weight_decay": tune.loguniform(1e-6, 1e-2)}

    def objective(trial):
        lr, wd = trial.params["lr"], trial.params["weight_decay"]
        ...                                   # train; trial.report(loss, step) as it goes
        return val_accuracy

    study = tune.run(objective, space, n_trials=12, direction="maximize", seed=0,
                     stage="coarse")                       # coarse: few epochs
    fine = tune.refine(study, top_k=3, shrink=0.5)          # narrower space around the best 3
    tune.run(objective, fine, n_trials=8, direction="maximize", seed=100, study=study,
             stage="fine")
    print(study.best_params)

``ember search SEARCH.toml`` does the same over an ``ember train`` config, with worker
processes and a shared storage for many machines (see ``ember search --help``).
"""
from .space import (Choice, Dimension, IntRange, LogUniform, Uniform, choice, intrange,
                    loguniform, uniform)

# Optuna is loaded on first use, so `ember --help` and `ember search`'s own checks work without it
_LAZY = {"ExplodingLossPruner": "pruners", "best_trials": "study", "make_storage": "study",
         "refine": "study", "run": "study", "stage_space": "study"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'ember.tune' has no attribute {name!r}")


__all__ = ["run", "refine", "best_trials", "stage_space", "make_storage", "loguniform", "uniform",
           "choice", "intrange", "ExplodingLossPruner", "Dimension", "LogUniform", "Uniform",
           "IntRange", "Choice"]
