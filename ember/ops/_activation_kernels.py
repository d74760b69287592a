"""Which implementation a large activation pass takes: the numba one-pass kernel
(:mod:`ember.kernels._numba_activation`) when the numba kernels are selected
(``ember.kernels.impl``: numba installed and ``EMBER_KERNELS`` not ``numpy``), else None and
the NumPy rule runs. Small, strided, mixed-dtype or non-NumPy arrays always take NumPy."""
import numpy as np

_MIN_SIZE = 1 << 15  # below this the NumPy passes cost a few microseconds: not worth a call
_mods = {}  # ember.kernels implementation module -> activation kernel module (or None)


def compiled_for(*arrays):
    """The activation kernel module for same-shaped, same-dtype C-contiguous float NumPy
    ``arrays``, or None."""
    a = arrays[0]
    if a.__class__ is not np.ndarray or a.size < _MIN_SIZE or a.dtype.char not in "fd":
        return None
    for b in arrays:
        if b.__class__ is not np.ndarray or b.dtype != a.dtype or b.shape != a.shape \
                or not b.flags.c_contiguous:
            return None
    from .. import kernels
    impl = kernels.impl(a)
    mod = _mods.get(impl, False)
    if mod is False:
        mod = None
        if impl.__name__.endswith("._numba"):
            from ..kernels import _numba_activation as mod
        _mods[impl] = mod
    return mod


def relu_backward(g, y):
    """``g * (y > 0)`` in ``g``'s dtype: one compiled pass (split over the kernel threads when
    large), or None when the NumPy rule must run."""
    mod = compiled_for(g, y)
    if mod is None:
        return None
    from ..kernels import threads
    out = np.empty_like(g)
    c = g.dtype.type
    gf, yf, of = g.reshape(-1), y.reshape(-1), out.reshape(-1)
    threads.split(mod.relu_backward, gf.size, gf.size, gf, yf, of, c(1), c(0))
    return out


def relu_forward(a):
    """``np.maximum(a, 0)``: one compiled pass, or None when the NumPy rule must run."""
    mod = compiled_for(a)
    if mod is None:
        return None
    from ..kernels import threads
    out = np.empty_like(a)
    af, of = a.reshape(-1), out.reshape(-1)
    threads.split(mod.relu_forward, af.size, af.size, af, of, a.dtype.type(0))
    return out
