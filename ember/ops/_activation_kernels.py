"""Which implementation a large activation pass takes: the numba one-pass kernel
(:mod:`ember.kernels._numba_activation`) when the numba kernels are selected
(``ember.kernels.impl``: numba installed and ``EMBER_KERNELS`` not ``numpy``), else None and
the NumPy rule runs. Small, strided, mixed-dtype or non-NumPy arrays always take NumPy."""
import numpy as np

_MIN_SIZE = 1 << 15  # below this the NumPy passes cost a few microseconds: not worth a call
_mods = {}  # ember.kernels implementation module -> activation kernel module (or None)


def compiled_for(*arrays):
    """The activation kernel module for same-shaped, same-dtype float NumPy ``arrays`` laid
    out alike and densely (C order or any axis permutation of it), or None."""
    a = arrays[0]
    if a.__class__ is not np.ndarray or a.size < _MIN_SIZE or a.dtype.char not in "fd":
        return None
    for b in arrays:
        if b.__class__ is not np.ndarray or b.dtype != a.dtype or b.shape != a.shape \
                or b.strides != a.strides:
            return None
    if not a.flags.c_contiguous and _order(a) is None:
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


def _order(a):
    """The axis order that makes a dense, non-C-ordered ``a`` C-contiguous (e.g. a
    channels-last buffer viewed as (N, C, H, W)), or None when ``a`` has gaps or overlaps."""
    order = tuple(sorted(range(a.ndim), key=lambda i: -a.strides[i]))
    return order if a.transpose(order).flags.c_contiguous else None


def _flat(a, order):
    return a.reshape(-1) if order is None else a.transpose(order).reshape(-1)


def _like(a, order):
    """An uninitialised array laid out as ``a`` (so its flat view lines up with ``a``'s)."""
    if order is None:
        return np.empty_like(a)
    out = np.empty(a.transpose(order).shape, a.dtype)
    return out.transpose(np.argsort(order))


def relu_backward(g, y):
    """``g * (y > 0)`` in ``g``'s dtype: one compiled pass (split over the kernel threads when
    large), or None when the NumPy rule must run."""
    mod = compiled_for(g, y)
    if mod is None:
        return None
    from ..kernels import threads
    order = None if g.flags.c_contiguous else _order(g)
    out = _like(g, order)
    c = g.dtype.type
    gf, yf, of = _flat(g, order), _flat(y, order), _flat(out, order)
    threads.split(mod.relu_backward, gf.size, gf.size, gf, yf, of, c(1), c(0))
    return out


def relu_forward(a):
    """``np.maximum(a, 0)``: one compiled pass, or None when the NumPy rule must run."""
    mod = compiled_for(a)
    if mod is None:
        return None
    from ..kernels import threads
    order = None if a.flags.c_contiguous else _order(a)
    out = _like(a, order)
    af, of = _flat(a, order), _flat(out, order)
    threads.split(mod.relu_forward, af.size, af.size, af, of, a.dtype.type(0))
    return out
