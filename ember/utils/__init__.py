"""Utilities built on the dispatcher: ``ember.utils.flop_counter.FlopCounterMode``."""
from .._lazy import lazy as _lazy

__all__ = ["flop_counter"]

# loads nn and the conv/linear primitives it counts: on first use, not by `import ember`
__getattr__, __dir__ = _lazy(__name__, globals(), {"flop_counter": ".flop_counter"})
