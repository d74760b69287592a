"""The one place that names an array library.

Primitives never import NumPy's functions for their arrays directly: they ask for the array
module of their inputs, so the same rule runs on NumPy arrays (CPU) and on CuPy arrays (GPU)::

    xp = get_array_module(x, w)
    out = xp.matmul(x, w)

NumPy is the default. A module is chosen by the type of the arrays: every array type registers
the module that owns it (CuPy when it is installed; the test device backend in the tests).
"""
import numpy as np

_MODULES = {}  # array type -> array module


def register_array_module(array_type, module):
    """Make ``get_array_module`` return ``module`` for arrays of ``array_type``."""
    _MODULES[array_type] = module


def get_array_module(*arrays):
    """The array module (``numpy``, ``cupy``, ...) that owns the first non-NumPy array among
    ``arrays``; ``numpy`` when they are all NumPy arrays, scalars or None."""
    if _MODULES:
        for a in arrays:
            m = _MODULES.get(type(a))
            if m is not None:
                return m
    return np
