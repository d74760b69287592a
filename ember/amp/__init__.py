"""Mixed precision: ``ember.autocast`` (low-precision matmul/conv/linear, float32 reductions
and losses) and ``ember.amp.GradScaler`` (loss scaling that skips steps with inf/NaN grads)."""
from .._lazy import lazy as _lazy


def autocast(device_type: str = "cpu", dtype=None, enabled: bool = True, cache_enabled=None):
    """Context manager (and decorator): run matmul, linear and conv in ``dtype`` (float16 by
    default; bfloat16 with ml_dtypes) with float32 accumulation, and reductions, softmax,
    normalisation and losses in float32. See :class:`ember.amp.autocast_mode.Autocast`."""
    from .autocast_mode import Autocast
    return Autocast(device_type, dtype, enabled)


__all__ = ["GradScaler", "autocast"]

# GradScaler loads on first use (kept out of `import ember`)
__getattr__, __dir__ = _lazy(__name__, globals(), {"GradScaler": ".grad_scaler:GradScaler"})
