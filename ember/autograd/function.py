"""Compatibility home of :class:`Function`: the rule base class lives in
:mod:`ember.ops.function` (it knows no Tensor) and ``Function.apply`` in :mod:`ember.dispatch`
(the one dispatch point). Import from either; this name stays."""
from ..ops.function import Function

__all__ = ["Function"]
