"""NaN/Inf guard: find the first primitive op (and the layer it ran in) that turned finite
inputs into a NaN or an infinity, in the forward pass or in backward.

    with ember.diagnose.detect_anomaly(model):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    # -> AnomalyError: forward: Log in layer 'body.1 (Head)' produced NaN (3 of 640 values)
    #    from finite inputs (input range [-0.52, 2.1]) ...

How: while the context is active, ``Function.apply`` (every primitive goes through it) is
wrapped to test ``np.isfinite(out).all()`` after each op, each recorded node gets a checked
``backward`` on the instance (the engine calls ``ctx.backward(ctx, g)``), and ``Module.__call__``
keeps a stack of the layers being run. Everything is restored on exit: zero cost when off,
one ``isfinite`` pass over each op's output when on.
"""
import threading

import numpy as np

from ..autograd.function import Function
from ..nn.module import Module
from .findings import Finding, fmt
from .stats import layer_label

_lock = threading.RLock()


class AnomalyError(FloatingPointError):
    """Raised by :func:`detect_anomaly` at the first op producing NaN/Inf; ``.finding`` holds
    the :class:`Finding` (op, layer, figures)."""

    def __init__(self, finding):
        super().__init__(f"{finding.message}\n  try: {finding.suggestion}")
        self.finding = finding


def _describe(a):
    nan = int(np.isnan(a).sum())
    inf = int(np.isinf(a).sum())
    what = "NaN" if nan and not inf else "Inf" if inf and not nan else "NaN and Inf"
    return what, nan + inf


def _range(arrays):
    parts = []
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size:
            parts.append(f"[{fmt(a.min())}, {fmt(a.max())}]")
        elif isinstance(a, (int, float)):
            parts.append(fmt(a))
    return ", ".join(parts)


_HINTS = {
    "Log": "log of a negative number or of 0 (clamp the input, e.g. x.clamp(min=1e-12), or use "
           "log_softmax / cross_entropy on logits instead of log(softmax))",
    "Sqrt": "sqrt of a negative number (clamp the input to >= 0, or add an epsilon)",
    "Div": "division by zero (add an epsilon to the denominator)",
    "Pow": "a negative base with a fractional exponent, or an overflow",
    "Exp": "exp overflow (the input is too large: subtract the max first, as softmax does)",
}


_BACK_HINTS = {
    "Sqrt": "sqrt's gradient 1/(2 sqrt(x)) is infinite at 0: use sqrt(x + 1e-12)",
    "Log": "log's gradient 1/x is infinite at 0: clamp the input (x.clamp(min=1e-12))",
    "Div": "the gradient of a / b is infinite where b = 0: add an epsilon to b",
    "Pow": "x ** p with p < 1 has an infinite gradient at 0: add an epsilon to x",
}


class detect_anomaly:
    """Context manager (and decorator-free object) that raises :class:`AnomalyError` at the first
    op whose output is NaN/Inf although its inputs were finite (forward), or whose gradient is
    NaN/Inf although the upstream gradient was finite (backward).

    model: optional; gives layers their qualified names ("3 (ReLU)"); without it layers are
      named by class. raise_error: False records ``self.finding`` (the first anomaly) and lets
      the computation go on. check_backward: also check backward (default True).
    """

    def __init__(self, model=None, raise_error=True, check_backward=True):
        self.model = model
        self.raise_error = raise_error
        self.check_backward = check_backward
        self.finding = None
        self._names = {}
        self._stack = []

    # -- layer naming ---------------------------------------------------------------------
    def _layer(self):
        if not self._stack:
            return None
        m = self._stack[-1]
        name = self._names.get(id(m))
        return name if name is not None else type(m).__name__

    def _report(self, finding):
        if self.finding is None:
            self.finding = finding
        if self.raise_error:
            raise AnomalyError(finding)

    # -- patching -------------------------------------------------------------------------
    def __enter__(self):
        if self.model is not None:
            self._names = {id(m): layer_label(n, m) for n, m in self.model.named_modules()}
        _lock.acquire()
        self._orig_apply = Function.__dict__["apply"]
        self._orig_call = Module.__dict__["__call__"]
        orig_apply = self._orig_apply.__func__
        orig_call = self._orig_call
        guard = self

        def call(module, *args, **kwargs):
            guard._stack.append(module)
            try:
                return orig_call(module, *args, **kwargs)
            finally:
                guard._stack.pop()

        def apply(cls, *inputs, **attrs):
            out = orig_apply(cls, *inputs, **attrs)
            a = out.data
            if a.dtype.kind in "fc" and not np.isfinite(a).all():
                arrays = [getattr(x, "data", x) for x in inputs]
                if all(not isinstance(x, np.ndarray) or x.dtype.kind not in "fc"
                       or np.isfinite(x).all() for x in arrays):
                    guard._forward_anomaly(cls, arrays, a, attrs)
            ctx = out._ctx
            if ctx is not None and guard.check_backward:
                ctx._anomaly_layer = guard._layer()
                ctx.backward = guard._checked_backward(cls)
            return out

        Function.apply = classmethod(apply)
        Module.__call__ = call
        return self

    def __exit__(self, *exc):
        Function.apply = self._orig_apply
        Module.__call__ = self._orig_call
        self._stack = []
        _lock.release()
        return False

    def _forward_anomaly(self, cls, arrays, out, attrs):
        what, count = _describe(out)
        layer = self._layer()
        op = cls.__name__
        where = f" in layer '{layer}'" if layer else " (outside any layer)"
        msg = (f"forward: op {op}{where} produced {what} ({count} of {out.size} values) from "
               f"finite inputs (input range {_range(arrays) or 'n/a'})")
        hint = _HINTS.get(op, "check this op's inputs: a value outside its domain or an overflow")
        self._report(Finding("error", "nan_guard", msg, layer=layer, suggestion=hint,
                             figures={"op": op, "phase": "forward", "count": count,
                                      "attrs": {k: repr(v) for k, v in attrs.items()}}))

    def _checked_backward(self, cls):
        guard = self
        backward = cls.backward

        def checked(ctx, g):
            layer = ctx.__dict__.get("_anomaly_layer")
            grads = backward(ctx, g)
            seq = grads if isinstance(grads, tuple) else (grads,)
            for i, pg in enumerate(seq):
                if isinstance(pg, np.ndarray) and pg.dtype.kind in "fc" and \
                        not np.isfinite(pg).all():
                    if isinstance(g, np.ndarray) and not np.isfinite(g).all():
                        break  # passed through: the first bad node was upstream
                    what, count = _describe(pg)
                    op = cls.__name__
                    where = f" in layer '{layer}'" if layer else " (outside any layer)"
                    art = "an" if what.startswith("I") else "a"
                    msg = (f"backward: op {op}{where} produced {art} {what} gradient for its input "
                           f"{i} ({count} of {pg.size} values) from a finite upstream gradient "
                           f"(upstream range {_range([g])})")
                    hint = _BACK_HINTS.get(op, "the op's derivative is infinite at these inputs "
                                          "(e.g. sqrt or log at 0): add an epsilon or clamp")
                    guard._report(Finding("error", "nan_guard", msg, layer=layer,
                                          suggestion=hint,
                                          figures={"op": op, "phase": "backward",
                                                   "count": count, "input": i}))
                    break
            return grads
        return checked
