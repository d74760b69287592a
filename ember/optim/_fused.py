"""In-place multiply-adds for the optimizer updates, on the parameter's own array module.

``axpy(alpha, x, y, tmp)``: ``y += alpha * x``; ``axpby(alpha, x, beta, y, tmp)``:
``y = alpha * x + beta * y``. Each is two or three ``out=`` ufunc passes through the scratch
buffer ``tmp`` (no allocation). No BLAS call and no thread-count change: the updates must not
touch process-wide state (a BLAS left on one thread slows every later matmul, and a thread
count that changes mid-run makes the matmuls, and so the runs, differ).
"""
import numpy as np

from ..backend import get_array_module


_CONSTS = {}  # (Python float, dtype) -> read-only 0-d array of that value


def _const(v, dtype):
    """A Python float as a 0-d array of ``dtype``: the same operand for a ufunc (NEP 50 casts
    a Python float to the array's dtype), but NumPy takes it ~0.6 us faster per call (small
    parameters: the tiny step). Cached; other scalars are returned as they are."""
    if v.__class__ is not float:
        return v
    a = _CONSTS.get((v, dtype))
    if a is None:
        if len(_CONSTS) > 256:  # schedules and bias corrections make new values every step
            _CONSTS.clear()
        a = np.array(v, dtype)
        a.flags.writeable = False
        _CONSTS[v, dtype] = a
    return a


SMALL = 4096  # elements: below this a new temporary costs less than finding the scratch one


def axpy(alpha, x, y, tmp):
    """``y += alpha * x`` in place. ``tmp`` is shaped like ``y``; it may be ``x`` itself when
    ``x`` is a scratch buffer the caller no longer needs, or None (small arrays: a temporary
    is allocated, the same floats)."""
    if y.__class__ is np.ndarray:
        if alpha == 1:
            np.add(y, x, y)
            return
        np.add(y, np.multiply(x, _const(alpha, x.dtype), tmp), y)
        return
    xp = get_array_module(y)
    if alpha == 1:
        xp.add(y, x, out=y)
        return
    xp.add(y, xp.multiply(x, alpha, out=tmp), out=y)


def axpby(alpha, x, beta, y, tmp):
    """``y = alpha * x + beta * y`` in place (``tmp`` as for :func:`axpy`)."""
    xp = np if y.__class__ is np.ndarray else get_array_module(y)
    xp.multiply(y, beta, out=y)
    axpy(alpha, x, y, tmp)


# ---- one-pass compiled updates (optional extra 'fast': numba) ------------------------------
_MIN_SIZE = 8192  # below this the NumPy passes cost microseconds: not worth loading numba
_UNSET = object()
_compiled = _UNSET


def compiled():
    """The numba update kernels (``ember.optim._numba_updates``), or None: numba missing, or
    ``EMBER_KERNELS=numpy`` (the same switch as the convolution kernels). Resolved once, on
    the first large update, so ``import ember`` never loads numba."""
    global _compiled
    if _compiled is _UNSET:
        import os
        want = os.environ.get("EMBER_KERNELS", "").strip().lower()
        if want == "numpy":
            _compiled = None
        else:
            try:
                from . import _numba_updates
                _compiled = _numba_updates
            except ImportError:
                if want == "numba":
                    raise ImportError("EMBER_KERNELS=numba needs numba: pip install "
                                      "'ember[fast]' (or pip install numba)") from None
                _compiled = None
    return _compiled


def flat_views(*arrays):
    """1-d views of same-shaped C-contiguous float32/float64 NumPy arrays, or None when any
    array is small, strided, of another dtype or another library (the NumPy path then runs)."""
    first = arrays[0]
    if first.size < _MIN_SIZE or first.dtype.char not in "fd":
        return None
    for a in arrays:
        if a.__class__ is not np.ndarray or not a.flags.c_contiguous or a.dtype != first.dtype \
                or a.shape != first.shape:
            return None
    if compiled() is None:
        return None
    return [a.reshape(-1) for a in arrays]


def python_scalars(*values):
    """True when every hyperparameter is a Python int or float. NumPy casts those to the
    array's dtype (NEP 50), as the kernels do; a NumPy float64 scalar would make the ``out=``
    passes compute in float64, so such a group keeps the NumPy path (same floats either way)."""
    for v in values:
        if v.__class__ is not float and v.__class__ is not int:
            return False
    return True
