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
from . import grad_mode
from ..tensor import Tensor

_new = object.__new__


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
        ctx = _new(cls)
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        try:
            out = cls.forward(ctx, *arrays, **attrs)
        except ValueError as e:
            if "could not be broadcast" not in str(e):
                raise
            shapes = " and ".join(str(getattr(a, "shape", "scalar")) for a in arrays)
            raise ValueError(f"{cls.__name__.lower()}: shapes {shapes} do not broadcast (each "
                             "dim must match, or one of them be 1, aligned from the right)"
                             ) from None
        if grad_mode._enabled:
            needs = tuple([isinstance(x, Tensor) and x.requires_grad for x in inputs])
            if True in needs:
                return _record(ctx, cls, inputs, needs, out)
        t = _new(Tensor)
        t.data = out
        t.grad = None
        t.requires_grad = False
        t._ctx = None
        t._vb = inputs[0]._vb if cls.view and isinstance(inputs[0], Tensor) and out.base is not None else [0]
        t._hooks = None
        return t


def _record(ctx, cls, inputs, needs, out):
    ctx.parents = inputs
    ctx.needs = needs
    t = _new(Tensor)
    t.data = out
    t.grad = None
    t.requires_grad = True
    t._ctx = ctx
    t._hooks = None
    if cls.view and out.base is not None:
        t._vb = inputs[0]._vb
    else:
        t._vb = [0]
    checks = None
    if cls.saves_inputs:
        checks = [(x._vb, x._vb[0], i) for i, x in enumerate(inputs) if isinstance(x, Tensor)]
    if cls.saves_output:
        checks = (checks or []) + [(t._vb, t._vb[0], -1)]
    ctx.vchecks = checks
    return t
