"""The primitive op: a forward rule on raw arrays and its backward rule (vector-Jacobian product).

Every differentiable op in ember is a subclass of :class:`Function`::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.a, ctx.b = a, b
            return a * b

        @staticmethod
        def backward(ctx, g):             # upstream gradient dL/dout
            return g * ctx.b, g * ctx.a   # local gradient x upstream gradient, per input

This module knows no Tensor: rules run on arrays alone. ``Mul.apply(x, y)`` (installed by
:mod:`ember.dispatch`, the one dispatch point) runs the active modes, then ``forward`` on the
arrays inside the tensors and, when an input needs a gradient and grad mode is on, records the
node so ``backward()`` can walk it in reverse.

Nothing outside ``ember/ops`` knows a derivative formula.
"""


class Function:
    """Base class of primitives: ``forward(ctx, *arrays, **attrs)`` and ``backward(ctx, grad)``.

    The contract, so a rule runs on arrays alone (an eager tape, a graph executor, a test)::

        ctx = op.__new__(op)
        ctx.needs = (True, False)             # which inputs want a gradient
        out = op.forward(ctx, *arrays, **attrs)
        grads = op.backward(ctx, g)           # one array (or None) per input

    * ``forward`` gets arrays (or constants) positionally and static attributes by keyword.
      Everything that changes from call to call (masks, indices, targets, statistics, random
      state) is a positional input; attributes are static (axes, strides, eps), so a recorded
      call can be replayed with new inputs.
    * ``backward`` reads only what ``forward`` saved on ``ctx`` and ``ctx.needs``; never the
      recorded tensors (``ctx.parents``, ``ctx.seq``, the creation number backward walks by,
      and ``ctx.vchecks`` are the engine's), so it runs without a Tensor.
      It returns one gradient per input (None where no gradient is needed), already reduced
      to that input's shape. ``forward`` must not rely on ``ctx.needs`` (eager mode sets it
      after forward, once it knows the node is recorded).
    * Rules get their array module from their inputs (``ember.backend.get_array_module``).

    Class attributes:
      saves_inputs: backward reads input values -> in-place changes to them are detected.
      saves_output: backward reads the output array -> in-place changes to it are detected.
      view: the output may share memory with the first input (reshape, transpose, slicing...).
      differentiable: False for ops with no gradient (comparisons, argmax, random draws):
        their outputs never record a node.
      exact_dtype: the output dtype is the op's explicit choice (a cast): no PyTorch-style
        demotion of float64 results (see ``ember.dispatch``).
    """

    __slots__ = ("parents", "needs", "vchecks", "seq", "__dict__")
    saves_inputs = True
    saves_output = False
    view = False
    differentiable = True
    exact_dtype = False

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
