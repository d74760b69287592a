"""Walking a recording into ONNX nodes: values, parameters, constants, dead-code removal,
module-level lowerings and the per-op rules.

Each recorded call is translated by the rule registered for its primitive
(``_export_ops.RULES``) through an :class:`OpContext`, which turns the call's inputs into
ONNX value names: a tensor an earlier op made, a graph input, a parameter or buffer (an
initializer named by its module path, ``0.weight``), or anything else the model read (a
constant: a Python number, an array, a tensor made inside ``forward``). A few layers whose
eval-mode primitives spell out one ONNX operator (batch norm, PReLU) are lowered whole
(``_export_modules``).
"""
from __future__ import annotations

import numpy as np

from ..backend import to_host
from ..tensor import Tensor
from ._export_builder import GraphBuilder
from ._export_errors import ExportError
from ._export_trace import Recording, leaves

_HINTS = {
    "DropoutMask": "a random draw (dropout in training form, F.dropout(..., training=True)); "
                   "export runs the model in eval mode, where dropout draws nothing",
    "BatchNormRunningStats": "a running-statistics update (batch norm in training form)",
    "SoftmaxCrossEntropy": "a loss; export the model without its loss",
    "BinaryCrossEntropy": "a loss; export the model without its loss",
    "BinaryCrossEntropyWithLogits": "a loss; export the model without its loss",
}


def layer_label(path: str, module) -> str:
    return f"layer '{path}' ({type(module).__name__})" if path else \
        f"the model's own forward ({type(module).__name__})"


class GraphWalker:
    """Translate one :class:`Recording` into nodes of a :class:`GraphBuilder`."""

    def __init__(self, builder: GraphBuilder, rec: Recording, rules: dict, lowerings,
                 param_names: dict, module_paths: dict):
        self.b = builder
        self.rec = rec
        self.rules = rules
        self.lowerings = lowerings
        self.param_names = param_names       # id(tensor) -> state_dict name
        self.module_paths = module_paths     # id(module) -> path
        self.values = {}                     # id(tensor) -> ONNX name
        self.params = {}                     # id(tensor) -> (name, tensor) of parameters used
        self._consts = {}                    # (id(obj), dtype) -> name
        self.keep = []                       # objects whose ids are cache keys stay alive
        self.input_names = {}                # id(graph-input tensor) -> its name

    # ---- values -------------------------------------------------------------------------
    def dyn(self, t) -> frozenset:
        return self.rec.dyn.get(id(t), frozenset())

    def name_of(self, t, dtype=None, where=None, alt=None) -> str:
        """The ONNX name of input ``t`` (cast to ``dtype`` when given). ``where``: the
        context for error messages; ``alt``: the same input in the resized recording."""
        if t is None:
            return ""
        if isinstance(t, Tensor) and id(t) in self.values:
            name = self.values[id(t)]
            if name is None:
                raise (where or self).fail("it reads a result the exporter could not produce")
            return self._cast(name, t.data.dtype, dtype)
        if isinstance(t, Tensor) and id(t) in self.param_names:
            if id(t) not in self.params:
                name = self.b.initializer(self.param_names[id(t)], to_host(t.data))
                self.params[id(t)] = (name, t)
                self.values[id(t)] = name
            return self._cast(self.values[id(t)], t.data.dtype, dtype)
        return self._constant(t, dtype, where, alt)

    def _cast(self, name, have, want):
        if want is None or np.dtype(want) == np.dtype(have):
            return name
        return self.b.cast(name, want)

    def _constant(self, t, dtype, where, alt):
        raw = t.data if isinstance(t, Tensor) else t
        value = np.asarray(to_host(raw))              # a model on a device exports too
        if value.ndim and where is not None:
            for x in self.rec.inputs:
                if raw is x.data or isinstance(raw, np.ndarray) and \
                        isinstance(x.data, np.ndarray) and np.shares_memory(raw, x.data):
                    raise where.fail(f"it reads the values of input "
                                     f"'{self.input_names.get(id(x), '?')}' outside ember's "
                                     "ops (through .data or .numpy()), so the export would "
                                     "bake this example's values in; pass the tensor itself")
        if alt is not None and where is not None:
            a2 = np.asarray(to_host(alt.data if isinstance(alt, Tensor) else alt))
            if a2.shape != value.shape:
                raise where.fail(f"it reads a tensor of shape {value.shape} made inside the "
                                 f"model whose shape follows a dynamic axis ({a2.shape} when "
                                 "the axis grows), so it cannot be a constant; compute it from "
                                 "the input with ember ops (e.g. x * 0)")
            if value.dtype != object and not np.array_equal(value, a2, equal_nan=True):
                raise where.fail("it reads a value computed outside ember's ops (e.g. "
                                 "through .numpy(), .item() or len()) that changes when a "
                                 "dynamic axis changes size, so it cannot be a constant")
        key = (id(t), None if dtype is None else np.dtype(dtype).str)
        if key not in self._consts:
            self.keep.append(t)
            self._consts[key] = self.b.const(value, dtype)
        return self._consts[key]

    def fail(self, msg):
        return ExportError(f"cannot export the model: {msg}")

    # ---- the walk -----------------------------------------------------------------------
    def run(self, outputs: list):
        """Emit every step the ``outputs`` (tensors) depend on."""
        for step in self._live(self._plan(), outputs):
            if step[0] == "lower":
                self._emit_lowering(*step[1:])
            else:
                self._emit_call(step[1])

    def _plan(self):
        """Steps in call order: ('call', Call) or ('lower', fn, invocation), where a lowered
        layer's calls are replaced by one step."""
        calls = self.rec.calls
        spans = {}
        for inv in sorted(self.rec.invocations, key=lambda v: (v[3], -v[4])):
            mod, args, out, first, end = inv
            fn = None if end <= first else self.lowerings(
                mod, args, out, self.rec.training.get(id(mod), False))
            if fn is None or any(first < e and s < end for s, (e, _, _) in spans.items()):
                continue
            made = {id(o) for c in calls[first:end] for o in c.outputs}
            if not isinstance(out, Tensor) or id(out) not in made:
                continue
            if self._escapes(made - {id(out)}, end):
                continue
            spans[first] = (end, fn, inv)
        steps, i = [], 0
        while i < len(calls):
            if i in spans:
                end, fn, inv = spans[i]
                steps.append(("lower", fn, inv))
                i = end
            else:
                steps.append(("call", calls[i]))
                i += 1
        return steps

    def _escapes(self, inner: set, end: int) -> bool:
        """Whether a tensor made inside a layer is read after it (then it is not lowered)."""
        if not inner:
            return False
        for c in self.rec.calls[end:]:
            if any(isinstance(x, Tensor) and id(x) in inner for x in c.inputs):
                return True
        return any(id(t) in inner for t in leaves(self.rec.output))

    def _live(self, steps, outputs):
        need = {id(t) for t in outputs}
        live = []
        for step in reversed(steps):
            if step[0] == "lower":
                outs, ins = (step[2][2],), leaves(step[2][1])
            else:
                outs, ins = step[1].outputs, step[1].inputs
            if any(isinstance(o, Tensor) and id(o) in need for o in outs):
                live.append(step)
                need.update(id(x) for x in ins if isinstance(x, Tensor))
        return live[::-1]

    def _emit_call(self, call):
        path = self.module_paths.get(id(call.module), "")
        ctx = OpContext(self, call, path)
        rule = self.rules.get(call.op)
        name = call.op.__name__
        if rule is None:
            hint = _HINTS.get(name)
            raise ExportError(f"cannot export op '{name}' (in {layer_label(path, call.module)}): "
                              f"ember.onnx.export has no ONNX mapping for it"
                              + (f"; it is {hint}" if hint else ""), op=name, layer=path)
        self.b.scope = path
        if call.alt is not None:
            ctx.check_static_attrs()
        try:
            outs = rule(ctx)
        except ExportError:
            raise
        except Exception as e:      # a case the rule did not foresee: say where it happened
            raise ctx.fail(f"{type(e).__name__}: {e}") from e
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        for o, n in zip(call.outputs, outs + [None] * (len(call.outputs) - len(outs))):
            if isinstance(o, Tensor):
                self.values[id(o)] = n

    def _emit_lowering(self, fn, inv):
        mod, args, out, first, end = inv
        path = self.module_paths.get(id(mod), "")
        self.b.scope = path
        self.values[id(out)] = fn(ModuleContext(self, mod, args, out, path))


class OpContext:
    """What an op rule sees of one recorded call: its inputs as ONNX names (``inp``), their
    dtypes, shapes and dynamic dims, the attributes, the outputs' dtypes and shapes, and the
    builder ``b``."""

    def __init__(self, walker: GraphWalker, call, path: str):
        self.w = walker
        self.b = walker.b
        self.call = call
        self.op = call.op
        self.attrs = call.attrs
        self.path = path

    # errors
    def fail(self, msg: str) -> ExportError:
        name = self.op.__name__
        return ExportError(f"cannot export op '{name}' (in "
                           f"{layer_label(self.path, self.call.module)}): {msg}",
                           op=name, layer=self.path)

    def check_static_attrs(self):
        """Attributes other than those a rule resolves itself must not follow the dynamic
        axes."""
        dynamic_ok = getattr(self.w.rules.get(self.op), "dynamic_attrs", ())
        for k, v in self.attrs.items():
            if k in dynamic_ok:
                continue
            if not _same(v, self.call.alt.attrs.get(k)):
                raise self.fail(f"its attribute {k}={v!r} changes when a dynamic axis changes "
                                f"size ({self.call.alt.attrs.get(k)!r}), so it cannot be "
                                "fixed in the ONNX graph")

    # inputs
    @property
    def n_inputs(self) -> int:
        return len(self.call.inputs)

    def raw(self, i):
        return self.call.inputs[i] if i < len(self.call.inputs) else None

    def alt_raw(self, i):
        alt = self.call.alt
        return None if alt is None or i >= len(alt.inputs) else alt.inputs[i]

    def is_none(self, i) -> bool:
        return self.raw(i) is None

    def is_const(self, i) -> bool:
        """Neither a result of an earlier op, a graph input nor a parameter."""
        x = self.raw(i)
        return not (isinstance(x, Tensor) and (id(x) in self.w.values or
                                               id(x) in self.w.param_names))

    def value(self, i) -> np.ndarray:
        x = self.raw(i)
        return np.asarray(to_host(x.data if isinstance(x, Tensor) else x))

    def dtype(self, i):
        x = self.raw(i)
        return x.data.dtype if isinstance(x, Tensor) else np.asarray(x).dtype

    def shape(self, i) -> tuple:
        x = self.raw(i)
        return tuple(x.data.shape if isinstance(x, Tensor) else np.shape(x))

    def ndim(self, i) -> int:
        return len(self.shape(i))

    def alt_shape(self, i):
        x = self.alt_raw(i)
        return None if x is None else tuple(np.shape(x.data if isinstance(x, Tensor) else x))

    def dyn(self, i) -> frozenset:
        return self.w.dyn(self.raw(i))

    def inp(self, i, dtype=None) -> str:
        """The ONNX name of input ``i`` ('' when it is None), cast to ``dtype`` if given."""
        return self.w.name_of(self.raw(i), dtype, where=self, alt=self.alt_raw(i))

    def common_dtype(self, *idx):
        """NumPy's result type of inputs ``idx`` (Python numbers and 0-d constants weak)."""
        parts = []
        for i in idx:
            x = self.raw(i)
            if isinstance(x, Tensor) and not (self.is_const(i) and x.ndim == 0):
                parts.append(x.data.dtype)
            elif x is not None:
                parts.append(np.asarray(to_host(x.data if isinstance(x, Tensor) else x)).item())
        return np.result_type(*parts)

    # outputs
    def out(self, k=0):
        return self.call.outputs[k]

    def out_dtype(self, k=0):
        return self.call.outputs[k].data.dtype

    def out_shape(self, k=0) -> tuple:
        return tuple(self.call.outputs[k].data.shape)

    def alt_out_shape(self, k=0):
        return None if self.call.alt is None else tuple(self.call.alt.outputs[k].data.shape)

    def out_dyn(self, k=0) -> frozenset:
        return self.w.dyn(self.call.outputs[k])


class ModuleContext:
    """What a module lowering sees: the module, its call's arguments and output."""

    def __init__(self, walker, module, args, output, path):
        self.w, self.b = walker, walker.b
        self.module, self.args, self.output, self.path = module, args, output, path

    def name(self, t, dtype=None) -> str:
        return self.w.name_of(t, dtype)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    try:
        return bool(a == b)
    except Exception:
        return a is b
