"""``FlopCounterMode``: count floating-point operations of matmuls and convolutions, per module
and per op, with PyTorch's names (``torch.utils.flop_counter``)::

    with FlopCounterMode(display=False) as fc:
        model(x).sum().backward()
    fc.get_total_flops()        # forward + backward
    fc.get_flop_counts()        # {"Global": {MatMul: n, ...}, "Sequential": {...}, ...}

Counts (a multiply and an add are 2 FLOPs, PyTorch's convention):
  * matmul (..., n, k) @ (..., k, m): 2 n k m per batch element; linear x (..., in) and
    W (out, in): 2 * rows * in * out. Bias additions are not counted (as PyTorch).
  * conv2d: 2 * N * C_out * H_out * W_out * (C_in / groups) * kh * kw (the textbook count,
    bias not counted).
  * backward: each gradient a rule computes costs its forward count again: the input
    gradient of a matmul/conv is one product of the same size, the weight gradient another.
Other ops count 0. Add a rule for your own primitive with :func:`register_flop_formula`.
"""
from collections import defaultdict
from math import prod

from ..dispatch import DispatchMode
from ..nn.module import running_modules, track_modules
from ..ops.linalg import MatMul
from ..ops.nn_conv import Conv2d
from ..ops.nn_layers import Linear

__all__ = ["FlopCounterMode", "register_flop_formula"]

_FORMULAS = {}


def register_flop_formula(op):
    """Decorator: ``@register_flop_formula(MyOp)`` on ``f(input_shapes, attrs, out_shape) ->
    int`` makes FlopCounterMode count ``f``'s FLOPs for every forward call of ``MyOp``."""
    def deco(fn):
        _FORMULAS[op] = fn
        return fn
    return deco


@register_flop_formula(MatMul)
def _matmul_flops(shapes, attrs, out_shape):
    a, b = shapes
    k = a[-1]
    return 2 * k * prod(out_shape)          # every output element is a length-k dot product


@register_flop_formula(Linear)
def _linear_flops(shapes, attrs, out_shape):
    x, w = shapes[0], shapes[1]
    return 2 * prod(x[:-1]) * w[1] * w[0]


@register_flop_formula(Conv2d)
def _conv_flops(shapes, attrs, out_shape):
    x, w = shapes[0], shapes[1]
    n, c_out, h_out, w_out = out_shape
    _, c_in_per_group, kh, kw = w
    return 2 * n * c_out * h_out * w_out * c_in_per_group * kh * kw


def _shape(x):
    return tuple(getattr(getattr(x, "data", x), "shape", ()))


def _human(n):
    for unit, f in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= f:
            return f"{n / f:.3g}{unit}"
    return str(n)


class FlopCounterMode(DispatchMode):
    """Counts FLOPs of the primitive calls made while active (forward, and backward when it
    runs inside the ``with``), per op and per module (the module names are paths such as
    ``Sequential.0``; ``"Global"`` holds everything). ``display=True`` prints the table on exit;
    ``depth`` limits how deep the table's module names go. ``mods`` is accepted for PyTorch
    compatibility (modules are found as they run)."""

    def __init__(self, mods=None, depth: int = 2, display: bool = True):
        self.depth = depth
        self.display = display
        self.flop_counts = defaultdict(lambda: defaultdict(int))
        self._names = {}
        self._active = False
        self._tracking = None

    # -- results ----------------------------------------------------------------------------
    def get_total_flops(self) -> int:
        """All FLOPs counted so far."""
        return sum(self.flop_counts["Global"].values())

    def get_flop_counts(self) -> dict:
        """``{module name: {op class: FLOPs}}``, with ``"Global"`` for the total per op."""
        return {m: dict(ops) for m, ops in self.flop_counts.items()}

    def get_table(self, depth: int = None) -> str:
        depth = self.depth if depth is None else depth
        total = self.get_total_flops() or 1
        rows = [("Module", "FLOP", "% Total")]
        for mod, ops in self.flop_counts.items():
            if mod != "Global" and mod.count(".") + 1 > depth:
                continue
            n = sum(ops.values())
            rows.append((mod, _human(n), f"{100 * n / total:.2f}%"))
            for op, k in ops.items():
                rows.append((f" - {op.__name__}", _human(k), f"{100 * k / total:.2f}%"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}"
                         for a, b, c in rows)

    # -- the mode -------------------------------------------------------------------------
    def __enter__(self):
        self.flop_counts.clear()
        self._tracking = track_modules()
        self._tracking.__enter__()
        self._active = True
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self._tracking.__exit__(*exc)
        self._active = False
        if self.display and exc[0] is None:
            print(self.get_table())
        return False

    def _module_names(self):
        """Path names of the running modules, outermost first ("Sequential", "Sequential.0")."""
        names, parent, path = [], None, None
        for m in running_modules():
            key = None
            if parent is not None:
                key = self._names.get((id(parent), id(m)))
                if key is None:
                    key = next((k for k, c in parent._modules.items() if c is m), "")
                    self._names[(id(parent), id(m))] = key
            path = type(m).__name__ if path is None or not key else f"{path}.{key}"
            names.append(path)
            parent = m
        return names

    def _add(self, op, flops, modules):
        self.flop_counts["Global"][op] += flops
        for name in modules:
            self.flop_counts[name][op] += flops

    def __ember_dispatch__(self, op, inputs, attrs):
        out = op.apply(*inputs, **attrs)
        rule = _FORMULAS.get(op)
        if rule is None:
            return out
        head = out[0] if isinstance(out, tuple) else out
        flops = int(rule([_shape(x) for x in inputs], attrs, tuple(head.shape)))
        modules = self._module_names()
        self._add(op, flops, modules)
        ctx = head._ctx
        if ctx is not None:  # count backward when it runs: one product per gradient computed
            ctx.backward = self._counted_backward(op, ctx.backward, flops, modules)
        return out

    def _counted_backward(self, op, backward, flops, modules):
        counter = self

        def counted(ctx, g):
            grads = backward(ctx, g)
            if counter._active:
                seq = grads if isinstance(grads, tuple) else (grads,)
                n = sum(1 for i, gr in enumerate(seq[:2]) if gr is not None)
                counter._add(op, n * flops, modules)
            return grads
        return counted
