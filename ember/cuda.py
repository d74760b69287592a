"""``ember.cuda``: is a CUDA GPU usable (CuPy installed and a device present)?

Never imports CuPy at ``import ember``; the first call does, and a missing CuPy simply
means "not available".
"""
from . import backend as _backend


def is_available() -> bool:
    """True when CuPy is installed and at least one NVIDIA GPU is visible."""
    return _backend.get_backend("cuda").is_available()


def device_count() -> int:
    """Number of visible CUDA GPUs (0 without CuPy or without a GPU)."""
    return _backend.get_backend("cuda").device_count()


def synchronize() -> None:
    """Wait for queued GPU work (for timing); a no-op without a GPU."""
    if is_available():
        import cupy
        cupy.cuda.Device().synchronize()
