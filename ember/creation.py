"""Tensor creation: from data, constant fills, ranges and random draws (seeded by
``ember.manual_seed``). float32 is the default floating type."""
import numpy as np

from . import random as _random
from .tensor import DEFAULT_FLOAT, Tensor, _to_array


def _dt(dtype, default=DEFAULT_FLOAT):
    return np.dtype(default if dtype is None else dtype)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (list, scalar, array or Tensor).
    Python floats give float32, ints int64, bools bool; NumPy arrays keep their dtype."""
    arr = _to_array(data, dtype)
    if arr is data or (isinstance(data, Tensor) and arr is data.data):
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    """Like :func:`tensor` but shares memory with a NumPy array or Tensor when it can."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(_to_array(data, dtype))


def from_numpy(array):
    """A tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def zeros(*size, dtype=None, requires_grad=False):
    return Tensor(np.zeros(_size(size), _dt(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return Tensor(np.ones(_size(size), _dt(dtype)), requires_grad=requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return Tensor(np.empty(_size(size), _dt(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    if dtype is None:
        dtype = (np.int64 if isinstance(fill_value, (int, np.integer)) and
                 not isinstance(fill_value, bool) else
                 np.bool_ if isinstance(fill_value, bool) else DEFAULT_FLOAT)
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(np.full(size, fill_value, _dt(dtype)), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Values from start (inclusive) to end (exclusive). Integer arguments give int64,
    any float argument gives float32 (as PyTorch)."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else DEFAULT_FLOAT
    return Tensor(np.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return Tensor(np.linspace(start, end, int(steps)).astype(_dt(dtype)),
                  requires_grad=requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return Tensor(np.eye(n, m, dtype=_dt(dtype)), requires_grad=requires_grad)


def _like(t, dtype):
    return t.data.dtype if dtype is None else dtype


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    return empty(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=_like(t, dtype), requires_grad=requires_grad)


def _float_dtype(dtype, fn):
    dt = _dt(dtype)
    if dt.kind != "f":
        raise TypeError(f"{fn}: random floats need a floating dtype, got {dt} (use randint for "
                        "integers)")
    return dt


def rand(*size, dtype=None, requires_grad=False):
    """Uniform on [0, 1)."""
    dtype = _float_dtype(dtype, "rand")
    g = _random.get_generator()
    return Tensor(g.random(_size(size), dtype=np.float64).astype(_dt(dtype)),
                  requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """Standard normal N(0, 1)."""
    dtype = _float_dtype(dtype, "randn")
    g = _random.get_generator()
    return Tensor(g.standard_normal(_size(size)).astype(_dt(dtype)), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=None):
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
    return Tensor(g.integers(low, high, size).astype(_dt(dtype, np.int64)))


def randperm(n, dtype=None):
    return Tensor(_random.get_generator().permutation(n).astype(_dt(dtype, np.int64)))


def rand_like(t, dtype=None, requires_grad=False):
    return rand(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)
