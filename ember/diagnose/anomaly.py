"""NaN/Inf guard: find the first primitive op (and the layer it ran in) that turned finite
inputs into a NaN or an infinity, in the forward pass or in backward; or, when the data itself
holds NaN/Inf, the first op that received it.

    with ember.diagnose.detect_anomaly(model):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    # -> AnomalyError: forward: Log in layer 'body.1 (Head)' produced NaN (3 of 640 values)
    #    from finite inputs (input range [-0.52, 2.1]) ...

How: the guard is a dispatch mode (:class:`ember.dispatch.DispatchMode`): it sees every
primitive call, runs it, tests ``np.isfinite(out).all()``, and gives each recorded node a
checked ``backward`` on that node (the engine calls ``ctx.backward(ctx, g)``); layers are named
from the stack ``Module.__call__`` keeps while :class:`ember.nn.module.track_modules` is on.
No class is patched, guards nest (each one wraps what the one below left), and they combine
with other modes. Off, it costs nothing; on, one ``isfinite`` pass over each op's output.
"""
import weakref

import numpy as np

from ..dispatch import DispatchMode
from ..nn.module import running_modules, track_modules
from ..tensor import Tensor
from .findings import Finding, fmt
from .stats import layer_label


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


class detect_anomaly(DispatchMode):
    """Context manager that raises :class:`AnomalyError` at the first op whose output is
    NaN/Inf although its inputs were finite (forward), or whose gradient is NaN/Inf although the
    upstream gradient was finite (backward). When an op receives NaN/Inf that no op under the
    guard produced (the input data, or a parameter, already held it), the data is blamed: the
    finding names that first op, the input and phase "input".

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
        self._bad = {}  # id -> weakref of non-finite outputs seen: propagation, not new anomalies
        self._tracking = None

    # -- layer naming ---------------------------------------------------------------------
    def _layer(self):
        stack = running_modules()
        if not stack:
            return None
        m = stack[-1]
        name = self._names.get(id(m))
        return name if name is not None else type(m).__name__

    def _report(self, finding):
        if self.finding is None:
            self.finding = finding
        if self.raise_error:
            raise AnomalyError(finding)

    # -- the mode -------------------------------------------------------------------------
    def __enter__(self):
        if self.model is not None:
            self._names = {id(m): layer_label(n, m) for n, m in self.model.named_modules()}
        self._tracking = track_modules()
        self._tracking.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self._tracking.__exit__(*exc)
        self._bad = {}
        return False

    def __ember_dispatch__(self, op, inputs, attrs):
        out = op.apply(*inputs, **attrs)
        for i, o in enumerate(out if isinstance(out, tuple) else (out,)):
            a = o.data
            if a.dtype.kind in "fc" and not np.isfinite(a).all():
                self._bad[id(o)] = weakref.ref(o)
                if i == 0:
                    self._forward_anomaly(op, inputs, a, attrs)
        head = out[0] if isinstance(out, tuple) else out
        ctx = head._ctx
        if ctx is not None and self.check_backward:
            ctx.backward = self._checked_backward(op, ctx.backward, self._layer())
        return out

    def _seen_bad(self, x):
        r = self._bad.get(id(x))
        return r is not None and r() is x

    def _forward_anomaly(self, cls, inputs, out, attrs):
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        layer = self._layer()
        op = cls.__name__
        where = f" in layer '{layer}'" if layer else " (outside any layer)"
        for i, (x, a) in enumerate(zip(inputs, arrays)):
            # only tensors: a constant -inf (masked_fill's value, a padding) is meant
            if isinstance(x, Tensor) and a.dtype.kind in "fc" and not np.isfinite(a).all():
                if self._seen_bad(x):
                    return  # an op under the guard made it: reported there (or propagation)
                what, count = _describe(a)
                msg = (f"input: op {op}{where} received {what} in its input {i} ({count} of "
                       f"{a.size} values) that no op produced: it came from the input data (or "
                       f"a parameter) already holding {what}")
                self._report(Finding(
                    "error", "nan_guard", msg, layer=layer,
                    suggestion="clean the data (drop or impute the non-finite values) before "
                               "training; ember.diagnose's data checks find such rows",
                    figures={"op": op, "phase": "input", "count": count, "input": i}))
                return
        what, count = _describe(out)
        msg = (f"forward: op {op}{where} produced {what} ({count} of {out.size} values) from "
               f"finite inputs (input range {_range(arrays) or 'n/a'})")
        hint = _HINTS.get(op, "check this op's inputs: a value outside its domain or an overflow")
        self._report(Finding("error", "nan_guard", msg, layer=layer, suggestion=hint,
                             figures={"op": op, "phase": "forward", "count": count,
                                      "attrs": {k: repr(v) for k, v in attrs.items()}}))

    def _checked_backward(self, cls, backward, layer):
        """Wrap ``backward`` (the rule, or what a guard below left on the node)."""
        guard = self

        def checked(ctx, g):
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
