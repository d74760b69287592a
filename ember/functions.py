"""Function forms of the tensor methods (``ember.sum(x, 1)`` = ``x.sum(1)``) and ops that take
several tensors (``cat``, ``stack``, ``where``, ``maximum``)."""
import numpy as np

from . import ops as _ops
from .tensor import Tensor, _data


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def add(a, b):
    return _ops.Add.apply(a, b)


def sub(a, b):
    return _ops.Sub.apply(a, b)


def mul(a, b):
    return _ops.Mul.apply(a, b)


def div(a, b):
    return _ops.Div.apply(a, b)


def pow(a, b):
    return _ops.Pow.apply(a, b)


def matmul(a, b):
    return _ops.MatMul.apply(a, b)


def maximum(a, b):
    return _ops.Maximum.apply(a, b)


def minimum(a, b):
    return _ops.Minimum.apply(a, b)


def where(condition, a, b):
    """Elementwise ``a`` where ``condition`` else ``b`` (differentiable in a and b)."""
    return _ops.Where.apply(np.asarray(_data(condition), bool), a, b)


def clip(x, min=None, max=None):
    return _t(x).clip(min, max)


clamp = clip


def _unary(name):
    def f(x, *args, **kwargs):
        return getattr(_t(x), name)(*args, **kwargs)
    f.__name__ = name
    f.__doc__ = f"Function form of ``Tensor.{name}``."
    return f


for _name in ["neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu",
              "sum", "mean", "var", "std", "max", "min", "amax", "amin", "logsumexp", "prod",
              "argmax", "argmin", "sign", "floor", "ceil", "trunc", "round", "reshape",
              "flatten", "squeeze", "unsqueeze", "transpose", "permute", "split", "chunk",
              "isnan", "isfinite"]:
    globals()[_name] = _unary(_name)
del _name


def cat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    return _ops.Concatenate.apply(*tensors, axis=dim if axis is None else axis)


concatenate = concat = cat


def stack(tensors, dim=0, *, axis=None):
    """Join same-shaped tensors along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    return _ops.Stack.apply(*tensors, axis=dim if axis is None else axis)


def pad(x, pad, value=0.0):
    """Constant padding. ``pad`` is PyTorch's flat form, pairs starting from the LAST dim
    ``(left, right, top, bottom, ...)``, or NumPy's per-axis ``((before, after), ...)``."""
    x = _t(x)
    nd = x.ndim
    if len(pad) and isinstance(pad[0], (tuple, list)):
        widths = [tuple(p) for p in pad]
        if len(widths) != nd:
            raise ValueError(f"pad: {len(widths)} (before, after) pairs for a tensor with {nd} dims")
    else:
        if len(pad) % 2 or len(pad) // 2 > nd:
            raise ValueError(f"pad: expected an even number of values, at most 2 per dim "
                             f"({2 * nd}), got {len(pad)}")
        widths = [(0, 0)] * nd
        for i in range(len(pad) // 2):
            widths[nd - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError("pad: negative padding is not supported")
    return _ops.Pad.apply(x, widths=tuple(widths), value=value)


def numel(x):
    return _t(x).numel()


def is_tensor(x):
    return isinstance(x, Tensor)
