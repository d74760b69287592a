"""Optuna, the optional extra ``ember[tune]``, imported with a clear message when absent."""
try:
    import optuna
except ImportError:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise ImportError("ember.tune needs Optuna, the hyperparameter-search engine it builds on: "
                      "pip install 'ember[tune]' (or pip install optuna)") from None

__all__ = ["optuna"]
