"""Kernels behind the convolution and pooling primitives, in two implementations with one
contract: ``numpy`` (always there, the default without numba) and ``numba`` (the optional extra
``fast``: ``pip install ember[fast]``), used when importable unless ``EMBER_KERNELS=numpy``.

Only NumPy arrays on the host go to the selected implementation; other array modules (CuPy, the
test device) always get the NumPy module's generic ``xp`` code. numba is imported on the first
convolution or pooling call, never by ``import ember``.
"""
import importlib.util
import os

import numpy as np

from .._lazy import lazy as _lazy

_NAMES = ("numpy", "numba")
_chosen = None  # the implementation module in use (resolved on first call)


def available() -> tuple:
    """Names of the implementations that can run here."""
    return ("numpy", "numba") if importlib.util.find_spec("numba") else ("numpy",)


def _load(name):
    if name == "numpy":
        from . import _numpy
        return _numpy
    if name == "numba":
        try:
            from . import _numba
        except ImportError as e:
            raise ImportError(f"ember kernels 'numba' need numba: pip install 'ember[fast]' "
                              f"or pip install numba ({e})") from None
        return _numba
    raise ValueError(f"unknown kernel implementation {name!r}; choose one of {_NAMES}")


def use(name: str) -> None:
    """Select the implementation for NumPy arrays: 'numpy' or 'numba'."""
    global _chosen
    _chosen = _load(name)


def name() -> str:
    """The implementation NumPy arrays go to ('numpy' or 'numba')."""
    return impl(np.empty(0)).__name__.rsplit("._", 1)[-1]


def impl(array):
    """The kernel module for ``array``: the selected one for a NumPy array, the generic NumPy
    module (which calls ``xp``) for any other array type."""
    global _chosen
    from . import _numpy
    if array.__class__ is not np.ndarray:
        return _numpy
    if _chosen is None:
        want = os.environ.get("EMBER_KERNELS", "").strip().lower()
        if want and want not in _NAMES:
            raise ValueError(f"EMBER_KERNELS={want!r}: choose one of {_NAMES}")
        if want:
            _chosen = _load(want)
        elif "numba" in available():
            try:
                _chosen = _load("numba")
            except Exception as e:  # installed but unusable (e.g. built for another NumPy)
                import warnings
                warnings.warn(f"ember: numba is installed but could not be loaded ({e}); using "
                              "the NumPy kernels (set EMBER_KERNELS=numpy to silence this)",
                              RuntimeWarning, stacklevel=2)
                _chosen = _load("numpy")
        else:
            _chosen = _load("numpy")
    return _chosen


# the thread pool module (ember.kernels.threads) binds on first use, like an eager submodule
__getattr__, __dir__ = _lazy(__name__, globals(), {"threads": ".threads"})
