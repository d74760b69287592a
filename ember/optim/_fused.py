"""In-place multiply-adds for the optimizer updates, on the parameter's own array module.

``axpy(alpha, x, y, tmp)``: ``y += alpha * x``; ``axpby(alpha, x, beta, y, tmp)``:
``y = alpha * x + beta * y``. Each is two or three ``out=`` ufunc passes through the scratch
buffer ``tmp`` (no allocation). No BLAS call and no thread-count change: the updates must not
touch process-wide state (a BLAS left on one thread slows every later matmul, and a thread
count that changes mid-run makes the matmuls, and so the runs, differ).
"""
import numpy as np

from ..backend import get_array_module


def axpy(alpha, x, y, tmp):
    """``y += alpha * x`` in place. ``tmp`` is shaped like ``y``; it may be ``x`` itself when
    ``x`` is a scratch buffer the caller no longer needs."""
    xp = np if y.__class__ is np.ndarray else get_array_module(y)
    if alpha == 1:
        xp.add(y, x, out=y)
        return
    xp.multiply(x, alpha, out=tmp)
    xp.add(y, tmp, out=y)


def axpby(alpha, x, beta, y, tmp):
    """``y = alpha * x + beta * y`` in place (``tmp`` as for :func:`axpy`)."""
    xp = np if y.__class__ is np.ndarray else get_array_module(y)
    xp.multiply(y, beta, out=y)
    axpy(alpha, x, y, tmp)
