"""The lectures' early-stopping rule for a search: a trial whose loss has grown past 3x its first
loss (or become NaN/inf) is diverging and will not recover, so stop it and spend the budget on
another one.

Optuna's pruners read the values a trial reports with ``trial.report(value, step)``; this one
reads them as *losses*: report the training loss (``ember search`` reports it every few batches).
"""
import math

from ._optuna import optuna


class ExplodingLossPruner(optuna.pruners.BasePruner):
    """Prune a trial once a reported loss is NaN/inf or exceeds ``ratio`` x its first report.

    ``then`` optionally chains another Optuna pruner (e.g. ``optuna.pruners.MedianPruner()``),
    consulted when the loss has not exploded.
    """

    def __init__(self, ratio: float = 3.0, then=None):
        if not (isinstance(ratio, (int, float)) and ratio > 1):
            raise ValueError(f"ExplodingLossPruner: ratio must be a number > 1, got {ratio!r}")
        self.ratio = float(ratio)
        self.then = then

    def prune(self, study, trial) -> bool:
        values = trial.intermediate_values
        if values:
            steps = sorted(values)
            first, last = values[steps[0]], values[steps[-1]]
            if not math.isfinite(last):
                return True
            if math.isfinite(first) and last > self.ratio * first:
                return True
        return bool(self.then is not None and self.then.prune(study, trial))
