"""The primitive op: a forward rule on raw arrays and its backward rule (vector-Jacobian product).

Every differentiable op in ember is a subclass of :class:`Function`::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.a, ctx.b = a, b
            return a * b

        @staticmethod
        def backward(ctx, g):          # upstream gradient dL/dout
            return g * ctx.b, g * ctx.a   # local gradient x upstream gradient, per input

``Mul.apply(x, y)`` runs ``forward`` on the arrays inside the tensors and, when any input needs a
gradient and grad mode is on, records the node so ``backward()`` can walk it in reverse.
Backward rules return one array (or None) per input, already reduced to that input's shape.

Nothing outside ``ember/ops`` knows a derivative formula.
"""
import numpy as np

from . import grad_mode
from ..devices import check_same_device
from ..tensor import DEFAULT_FLOAT, Tensor

_new = object.__new__
_F64 = np.dtype(np.float64)


def _demote(out, arrays):
    """PyTorch's type promotion where it differs from NumPy's: a float64 result only when a
    float64 tensor with dimensions took part (or every input is 0-d). So int / int, int + 1.5,
    uint8 / 255 and float32 + a 0-d float64 give float32 (the default float), not float64."""
    all_0d = all(np.ndim(a) == 0 for a in arrays)
    for a in arrays:
        if getattr(a, "dtype", None) is _F64 and (a.ndim or all_0d):
            return out
    return out.astype(DEFAULT_FLOAT)


class Function:
    """Base class of primitives. Subclasses define ``forward(ctx, *arrays, **attrs)`` and
    ``backward(ctx, grad)``; ``ctx`` is the node itself, so attributes set on it in ``forward``
    are there in ``backward``.

    Class attributes:
      saves_inputs: backward reads input arrays -> in-place changes to them are detected.
      saves_output: backward reads the output array -> in-place changes to it are detected.
      view: the output may share memory with the first input (reshape, transpose, slicing...).
    """

    __slots__ = ("parents", "needs", "vchecks", "__dict__")
    saves_inputs = True
    saves_output = False
    view = False

    @staticmethod
    def forward(ctx, *arrays, **attrs):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def name(self):
        return type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name}>"

    @classmethod
    def apply(cls, *inputs, **attrs):
        """Run the primitive on tensors (or constants) and record it for backward if needed."""
        # Unrolled for one and two inputs: this is the hottest path in eager mode, and a
        # comprehension costs more than the NumPy call for small arrays.
        ctx = _new(cls)
        n = len(inputs)
        try:
            if n == 1:
                x = inputs[0]
                if isinstance(x, Tensor):
                    out = cls.forward(ctx, x.data, **attrs)
                    rec = x.requires_grad and grad_mode._enabled
                else:
                    out = cls.forward(ctx, x, **attrs)
                    rec = False
            elif n == 2:
                x, y = inputs
                xt, yt = isinstance(x, Tensor), isinstance(y, Tensor)
                out = cls.forward(ctx, x.data if xt else x, y.data if yt else y, **attrs)
                rec = grad_mode._enabled and ((xt and x.requires_grad) or (yt and y.requires_grad))
            else:
                out = cls.forward(ctx, *[x.data if isinstance(x, Tensor) else x for x in inputs],
                                  **attrs)
                rec = grad_mode._enabled and any(
                    isinstance(x, Tensor) and x.requires_grad for x in inputs)
        except TypeError:  # a device array mixed with another device's: say which two
            check_same_device(cls.__name__.lower(), inputs)
            raise
        except ValueError as e:
            if "could not be broadcast" not in str(e):
                raise
            shapes = " and ".join(str(x.shape) if isinstance(x, Tensor) else
                                  str(getattr(x, "shape", "scalar")) for x in inputs)
            raise ValueError(f"{cls.__name__.lower()}: shapes {shapes} do not broadcast (each "
                             "dim must match, or one of them be 1, aligned from the right)"
                             ) from None
        if isinstance(out, np.generic):  # NumPy gives scalars for 0-d results; keep arrays
            out = np.asarray(out)
        if out.dtype is _F64:
            out = _demote(out, [x.data if isinstance(x, Tensor) else x for x in inputs])
        if rec:
            return _record(ctx, cls, inputs, out)
        t = _new(Tensor)
        t.data = out
        t.grad = None
        t.requires_grad = False
        t._ctx = None
        t._vb = inputs[0]._vb if cls.view and out.base is not None and \
            isinstance(inputs[0], Tensor) else [0]
        t._hooks = None
        return t


def _record(ctx, cls, inputs, out):
    """Attach the node to a new output tensor; remember the versions of arrays backward reads."""
    ctx.parents = inputs
    t = _new(Tensor)
    t.data = out
    t.grad = None
    t.requires_grad = True
    t._ctx = ctx
    t._hooks = None
    x = inputs[0]
    xt = isinstance(x, Tensor)
    t._vb = x._vb if cls.view and xt and out.base is not None else [0]
    checks = None
    if len(inputs) == 1:
        ctx.needs = (True,)
        if cls.saves_inputs:
            checks = [(x._vb, x._vb[0], 0)]
    elif len(inputs) == 2:
        y = inputs[1]
        yt = isinstance(y, Tensor)
        ctx.needs = (xt and x.requires_grad, yt and y.requires_grad)
        if cls.saves_inputs:
            checks = []
            if xt:
                checks.append((x._vb, x._vb[0], 0))
            if yt:
                checks.append((y._vb, y._vb[0], 1))
    else:
        ctx.needs = tuple([isinstance(x, Tensor) and x.requires_grad for x in inputs])
        if cls.saves_inputs:
            checks = [(x._vb, x._vb[0], i) for i, x in enumerate(inputs) if isinstance(x, Tensor)]
    if cls.saves_output:
        checks = (checks or []) + [(t._vb, t._vb[0], -1)]
    ctx.vchecks = checks
    return t
