"""The one dispatch point: every primitive call (``Op.apply(*inputs, **attrs)``) goes through
:func:`apply`, which runs the active modes, innermost first, and then the eager NumPy path.

A mode sees each call and decides what to do with it (record it, check it, count it, replace
it)::

    class OpCounter(ember.dispatch.DispatchMode):
        def __init__(self):
            self.counts = collections.Counter()

        def __ember_dispatch__(self, op, inputs, attrs):
            self.counts[op.__name__] += 1
            return op.apply(*inputs, **attrs)   # the rest of the stack, then eager

    with OpCounter() as c:
        model(x)
    c.counts   # Counter({'Linear': 2, 'Relu': 1})

Modes live on a thread-local stack: ``with`` pushes, leaving pops, and the innermost (most
recently entered) sees a call first. While a mode's ``__ember_dispatch__`` runs, that mode is
off, so ``op.apply`` inside it goes to the modes below it (as PyTorch's TorchDispatchMode).

With no mode active the eager path pays one test of a module global.
"""
import itertools
from _thread import _local, allocate_lock  # threading.local and Lock, without threading.py

import numpy as np

from .autograd import grad_mode
from .devices import check_same_device
from .ops.function import Function
from .tensor import DEFAULT_FLOAT, Tensor

__all__ = ["DispatchMode", "RecordingMode", "apply", "current_modes"]

_new = object.__new__
_F64 = np.dtype(np.float64)
_ndarray = np.ndarray
_SCALARS = (np.generic, int, float, complex)  # host numbers (operators on two Python numbers)


class _ModeStack(_local):
    def __init__(self):
        self.stack = []


_tls = _ModeStack()
_active = 0  # modes entered in all threads: the eager fast path tests only this
_lock = allocate_lock()
_next_seq = itertools.count().__next__  # creation order of recorded nodes: backward's order
_NEED1 = (True,)


class DispatchMode:
    """Base class of dispatch modes; use as a context manager (``with MyMode(): ...``).

    Subclasses override ``__ember_dispatch__(self, op, inputs, attrs)``: ``op`` is the
    primitive's :class:`~ember.ops.function.Function` subclass, ``inputs`` the tuple of its
    inputs (Tensors or constants), ``attrs`` the dict of static attributes. It returns what the
    op returns (a Tensor). Calling ``op.apply(*inputs, **attrs)`` inside it runs the modes below
    this one and then eager execution. Modes nest; a mode may be entered again after it exits.
    """

    def __ember_dispatch__(self, op, inputs, attrs):
        return op.apply(*inputs, **attrs)

    def __enter__(self):
        global _active
        _tls.stack.append(self)
        with _lock:
            _active += 1
        return self

    def __exit__(self, *exc):
        global _active
        stack = _tls.stack
        for i in range(len(stack) - 1, -1, -1):  # normally the top; tolerate misnesting
            if stack[i] is self:
                del stack[i]
                break
        with _lock:
            _active -= 1
        return False


def current_modes():
    """The modes active in this thread, outermost first (a mode whose ``__ember_dispatch__``
    is running is not listed: it is off while it runs)."""
    return tuple(_tls.stack)


class RecordingMode(DispatchMode):
    """Records every primitive call as ``(op, inputs, attrs, outputs)`` in ``.calls``, in call
    order, and runs it normally: the trace tracing, graph building and export read."""

    def __init__(self):
        self.calls = []

    def __ember_dispatch__(self, op, inputs, attrs):
        out = op.apply(*inputs, **attrs)
        self.calls.append((op, inputs, attrs, out))
        return out


def _dispatch(cls, inputs, attrs):
    """Give the call to the innermost mode of this thread, with that mode off meanwhile."""
    stack = _tls.stack
    i = len(stack) - 1
    mode = stack.pop()
    try:
        return mode.__ember_dispatch__(cls, inputs, attrs)
    finally:
        stack.insert(i, mode)


def _demote(out, arrays):
    """PyTorch's type promotion where it differs from NumPy's: a float64 result only when a
    float64 tensor with dimensions took part (or every input is 0-d). So int / int, int + 1.5,
    uint8 / 255 and float32 + a 0-d float64 give float32 (the default float), not float64."""
    all_0d = all(np.ndim(a) == 0 for a in arrays)
    for a in arrays:
        if getattr(a, "dtype", None) is _F64 and (a.ndim or all_0d):  # host or device array
            return out
    return out.astype(DEFAULT_FLOAT)


def apply(cls, *inputs, **attrs):
    """Run primitive ``cls`` on tensors (or constants): through the active modes if any, else
    eagerly, recording the node for backward when grad mode is on and an input requires grad.
    Installed as ``Function.apply`` (a classmethod)."""
    if _active and _tls.stack:
        return _dispatch(cls, inputs, attrs)
    # Unrolled for one and two inputs: this is the hottest path in eager mode, and a
    # comprehension costs more than the NumPy call for small arrays.
    ctx = _new(cls)
    n = len(inputs)
    try:
        if n == 1:
            x = inputs[0]
            if isinstance(x, Tensor):
                out = cls.forward(ctx, x.data, **attrs) if attrs else cls.forward(ctx, x.data)
                rec = x.requires_grad and grad_mode._enabled
            else:
                out = cls.forward(ctx, x, **attrs)
                rec = False
        elif n == 2:
            x, y = inputs
            xt, yt = isinstance(x, Tensor), isinstance(y, Tensor)
            out = cls.forward(ctx, x.data if xt else x, y.data if yt else y, **attrs) \
                if attrs else cls.forward(ctx, x.data if xt else x, y.data if yt else y)
            rec = grad_mode._enabled and ((xt and x.requires_grad) or (yt and y.requires_grad))
        elif n == 3:  # linear (x, W, b), losses with a weight: as hot as the two above
            x, y, z = inputs
            xt, yt, zt = isinstance(x, Tensor), isinstance(y, Tensor), isinstance(z, Tensor)
            out = cls.forward(ctx, x.data if xt else x, y.data if yt else y,
                              z.data if zt else z, **attrs) if attrs else \
                cls.forward(ctx, x.data if xt else x, y.data if yt else y, z.data if zt else z)
            rec = grad_mode._enabled and ((xt and x.requires_grad) or (yt and y.requires_grad)
                                          or (zt and z.requires_grad))
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
    if out.__class__ is not _ndarray:
        if out.__class__ is tuple:  # several outputs (batch statistics, a new random state)
            return _wrap_many(ctx, cls, inputs, out, rec)
        if isinstance(out, _SCALARS):  # NumPy gives scalars for 0-d results; keep arrays
            out = np.asarray(out)
    if out.dtype is _F64 and not cls.exact_dtype:
        out = _demote(out, [x.data if isinstance(x, Tensor) else x for x in inputs])
    if rec and cls.differentiable:
        if n > 3:
            return _record(ctx, cls, inputs, out)
        # _record inline for one to three inputs, with the tensor flags found above: a frame
        # and the isinstance tests less per recorded op (keep the two in step)
        ctx.parents = inputs
        ctx.seq = _next_seq()
        t = _new(Tensor)
        t.data = out
        t.grad = None
        t.requires_grad = True
        t._ctx = ctx
        t._hooks = None
        if n == 1:  # x is a tensor that requires grad, or nothing would be recorded
            ctx.needs = _NEED1
            xv = x._vb
            t._vb = ov = xv if cls.view and out.base is not None else [0]
            if cls.saves_inputs:
                ctx.vchecks = [(xv, xv[0], 0), (ov, ov[0], -1)] if cls.saves_output else \
                    [(xv, xv[0], 0)]
            else:
                ctx.vchecks = [(ov, ov[0], -1)] if cls.saves_output else None
            return t
        t._vb = ov = x._vb if cls.view and xt and out.base is not None else [0]
        checks = None
        if n == 2:
            ctx.needs = (xt and x.requires_grad, yt and y.requires_grad)
            if cls.saves_inputs:
                if xt and yt:
                    xv, yv = x._vb, y._vb
                    checks = [(xv, xv[0], 0), (yv, yv[0], 1)]
                else:
                    checks = [(x._vb, x._vb[0], 0)] if xt else []
                    if yt:
                        checks.append((y._vb, y._vb[0], 1))
        else:
            ctx.needs = (xt and x.requires_grad, yt and y.requires_grad,
                         zt and z.requires_grad)
            if cls.saves_inputs:
                if xt and yt and zt:
                    xv, yv, zv = x._vb, y._vb, z._vb
                    checks = [(xv, xv[0], 0), (yv, yv[0], 1), (zv, zv[0], 2)]
                else:
                    checks = [(x._vb, x._vb[0], 0)] if xt else []
                    if yt:
                        checks.append((y._vb, y._vb[0], 1))
                    if zt:
                        checks.append((z._vb, z._vb[0], 2))
        if cls.saves_output:
            checks = (checks or []) + [(ov, ov[0], -1)]
        ctx.vchecks = checks
        return t
    t = _new(Tensor)
    t.data = out
    t.grad = None
    t.requires_grad = False
    t._ctx = None
    t._vb = inputs[0]._vb if cls.view and out.base is not None and \
        isinstance(inputs[0], Tensor) else [0]
    t._hooks = None
    return t


def _wrap_many(ctx, cls, inputs, outs, rec):
    """Several outputs: the first is the differentiable one (recorded as usual); the others
    are plain tensors outside the graph (state such as running statistics, random state)."""
    outs = [np.asarray(o) if isinstance(o, _SCALARS) else o for o in outs]
    head = _record(ctx, cls, inputs, outs[0]) if rec and cls.differentiable else _plain(outs[0])
    return (head,) + tuple(_plain(o) for o in outs[1:])


def _plain(out):
    """A tensor outside the graph around ``out`` (an array of any library, not copied)."""
    t = _new(Tensor)
    t.data = out
    t.grad = None
    t.requires_grad = False
    t._ctx = None
    t._vb = [0]
    t._hooks = None
    return t


def _record(ctx, cls, inputs, out):
    """Attach the node to a new output tensor; remember the versions of arrays backward reads
    (``ctx.vchecks``: ``(version box, version now, input index or -1 for the output)``).
    :func:`apply` has a copy of this inline for one to three inputs."""
    ctx.parents = inputs
    ctx.seq = _next_seq()
    t = _new(Tensor)
    t.data = out
    t.grad = None
    t.requires_grad = True
    t._ctx = ctx
    t._hooks = None
    x = inputs[0]
    n = len(inputs)
    if n == 1:  # x is a tensor that requires grad, or nothing would be recorded
        ctx.needs = _NEED1
        t._vb = x._vb if cls.view and out.base is not None else [0]
        checks = [(x._vb, x._vb[0], 0)] if cls.saves_inputs else None
    else:
        xt = isinstance(x, Tensor)
        t._vb = x._vb if cls.view and xt and out.base is not None else [0]
        checks = None
        if n == 2:
            y = inputs[1]
            yt = isinstance(y, Tensor)
            ctx.needs = (xt and x.requires_grad, yt and y.requires_grad)
            if cls.saves_inputs:
                checks = [(x._vb, x._vb[0], 0)] if xt else []
                if yt:
                    checks.append((y._vb, y._vb[0], 1))
        elif n == 3:
            y, z = inputs[1], inputs[2]
            yt, zt = isinstance(y, Tensor), isinstance(z, Tensor)
            ctx.needs = (xt and x.requires_grad, yt and y.requires_grad, zt and z.requires_grad)
            if cls.saves_inputs:
                checks = [(x._vb, x._vb[0], 0)] if xt else []
                if yt:
                    checks.append((y._vb, y._vb[0], 1))
                if zt:
                    checks.append((z._vb, z._vb[0], 2))
        else:
            ctx.needs = tuple([isinstance(x, Tensor) and x.requires_grad for x in inputs])
            if cls.saves_inputs:
                checks = [(x._vb, x._vb[0], i) for i, x in enumerate(inputs)
                          if isinstance(x, Tensor)]
    if cls.saves_output:
        checks = (checks or []) + [(t._vb, t._vb[0], -1)]
    ctx.vchecks = checks
    return t


Function.apply = classmethod(apply)  # the rule classes know no Tensor; execution lives here
