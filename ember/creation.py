"""Tensor creation: from data, constant fills, ranges and random draws (seeded by
``ember.manual_seed``). float32 is the default floating type.

Every function takes ``device=`` (an ``ember.device`` or a string such as ``"cuda:0"``).
Constant fills are made by the device's array module; random draws and data are made on the
host and copied, so a seed gives the same values on every device.
"""
import numpy as np

from . import backend as _backend
from . import random as _random
from .devices import as_device
from .dtypes import as_dtype, is_floating_point
from .tensor import DEFAULT_FLOAT, Tensor, _to_array


def _dt(dtype, default=DEFAULT_FLOAT):
    return as_dtype(default if dtype is None else dtype)


def _make(device, name, *args):
    """``xp.<name>(*args)`` with the array module of ``device`` (NumPy for None/cpu), made on
    that device (its index checked, the GPU selected while allocating)."""
    if device is None:
        return getattr(np, name)(*args)
    dev = as_device(device)
    b = _backend.get_backend(dev.type)
    b.check_index(dev.index)
    with b.on(dev.index):
        return getattr(b.module(), name)(*args)


def _on(arr, device):
    """A host array moved to ``device`` (no-op for None/cpu)."""
    if device is None:
        return arr
    return _backend.move(arr, as_device(device))


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (list, scalar, array or Tensor).
    Python floats give float32, ints int64, bools bool; NumPy arrays keep their dtype.
    ``device`` defaults to the device of ``data`` (the host for lists and NumPy arrays)."""
    arr = _to_array(data, dtype)
    if arr is data or (isinstance(data, Tensor) and arr is data.data):
        arr = arr.copy()
    if device is not None:
        arr = _on(arr, device)
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like :func:`tensor` but shares memory with a NumPy array or Tensor when it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return Tensor(_on(_to_array(data, dtype), device))


def from_numpy(array):
    """A tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return Tensor(_make(device, "zeros", _size(size), _dt(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return Tensor(_make(device, "ones", _size(size), _dt(dtype)), requires_grad=requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return Tensor(_make(device, "empty", _size(size), _dt(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = (np.int64 if isinstance(fill_value, (int, np.integer)) and
                 not isinstance(fill_value, bool) else
                 np.bool_ if isinstance(fill_value, bool) else DEFAULT_FLOAT)
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(_make(device, "full", size, fill_value, _dt(dtype)),
                  requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from start (inclusive) to end (exclusive). Integer arguments give int64,
    any float argument gives float32 (as PyTorch)."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else DEFAULT_FLOAT
    return Tensor(_on(np.arange(start, end, step).astype(dtype), device),
                  requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return Tensor(_on(np.linspace(start, end, int(steps)).astype(_dt(dtype)), device),
                  requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return Tensor(_make(device, "eye", n, m, 0, _dt(dtype)), requires_grad=requires_grad)


def _like(t, dtype):
    return t.data.dtype if dtype is None else dtype


def _like_dev(t, device):
    return t.device if device is None else device


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(t.shape, dtype=_like(t, dtype), device=_like_dev(t, device),
                requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(t.shape, dtype=_like(t, dtype), device=_like_dev(t, device),
                requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return empty(t.shape, dtype=_like(t, dtype), device=_like_dev(t, device),
                requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=_like(t, dtype), device=_like_dev(t, device),
                requires_grad=requires_grad)


def _float_dtype(dtype, fn):
    dt = _dt(dtype)
    if not is_floating_point(dt):
        raise TypeError(f"{fn}: random floats need a floating dtype, got {dt} (use randint for "
                        "integers)")
    return dt


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1)."""
    dtype = _float_dtype(dtype, "rand")
    g = _random.get_generator()
    return Tensor(_on(g.random(_size(size), dtype=np.float64).astype(_dt(dtype)), device),
                  requires_grad=requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal N(0, 1)."""
    dtype = _float_dtype(dtype, "randn")
    g = _random.get_generator()
    return Tensor(_on(g.standard_normal(_size(size)).astype(_dt(dtype)), device),
                  requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    """Integers uniform in [low, high) (int64). As PyTorch, ``randint(high, size)`` means
    ``low = 0``."""
    if isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    size = (size,) if isinstance(size, int) else tuple(size)
    g = _random.get_generator()
    return Tensor(_on(g.integers(low, high, size).astype(_dt(dtype, np.int64)), device))


def randperm(n, dtype=None, device=None):
    return Tensor(_on(_random.get_generator().permutation(n).astype(_dt(dtype, np.int64)),
                      device))


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return rand(t.shape, dtype=_like(t, dtype), device=_like_dev(t, device),
                requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return randn(t.shape, dtype=_like(t, dtype), device=_like_dev(t, device),
                requires_grad=requires_grad)
