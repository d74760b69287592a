"""Utilities built on the dispatcher: ``ember.utils.flop_counter.FlopCounterMode``."""
from . import flop_counter

__all__ = ["flop_counter"]
