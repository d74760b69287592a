"""Recording a model for export: the example arguments, eval mode, and ember's own tracer
(``ember.graph.trace.record_module``, a recording dispatch mode plus module hooks).

Dynamic axes are found by a second recording on inputs whose dynamic axes are one longer
(the example rows repeated, so indices and values stay valid): an output dimension that
changes between the two recordings depends on a dynamic axis, and a static attribute that
changes (a reshape's target shape) tells the op rules where a baked size must become
symbolic. Both recordings must make the same calls.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from ..backend import device_of, move, to_host
from ..graph.trace import record_module
from ..tensor import Tensor
from ._export_errors import ExportError


@dataclass
class Call:
    """One recorded primitive call: ``op(*inputs, **attrs) -> outputs`` inside ``module``;
    ``alt`` is the same call in the resized recording (``None`` without dynamic axes)."""
    op: type
    inputs: tuple
    attrs: dict
    outputs: tuple
    module: object
    alt: "Call | None" = None


@dataclass
class Recording:
    args: tuple                 # the positional arguments the model was called with
    kwargs: dict
    inputs: list                # graph-input tensors, depth-first through args then kwargs
    output: object              # what the model returned
    calls: list
    invocations: list           # (module, args, output, first, end) from record_module
    dyn: dict = field(default_factory=dict)   # id(tensor) -> frozenset of dynamic dims
    training: dict = field(default_factory=dict)  # id(module) -> its flag during the run
    alt_output: object = None


def split_args(args):
    """PyTorch's convention: a tuple is the positional arguments (a trailing dict: keyword
    arguments); anything else is the single argument."""
    if isinstance(args, tuple):
        if args and isinstance(args[-1], dict):
            return args[:-1], dict(args[-1])
        return args, {}
    return (args,), {}


def map_tensors(obj, fn):
    """``obj`` rebuilt with ``fn`` applied to each Tensor (arrays are made Tensors first),
    through tuples, lists and dicts."""
    if isinstance(obj, np.ndarray):
        obj = Tensor(obj)
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(map_tensors(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    return obj


def leaves(obj) -> list:
    """The tensors in ``obj`` (depth-first), each once."""
    out, seen = [], set()

    def visit(t):
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
        return t

    map_tensors(obj, visit)
    return out


def _run(model, args, kwargs):
    with no_grad():
        return record_module(model, args, kwargs)


def record(model, args, kwargs, input_dyn: list) -> Recording:
    """Record ``model(*args, **kwargs)``; ``input_dyn[i]`` is the set of dynamic axes of the
    i-th graph input. Runs in eval mode; every module's training flag is restored."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        out, calls, inv = _run(model, args, kwargs)
        rec = Recording(args, kwargs, leaves((args, kwargs)), out,
                        [Call(*c) for c in calls], inv)
        rec.training = {id(m): m.training for m in model.modules()}  # layers may set their own
        if any(input_dyn):
            _record_resized(model, rec, input_dyn)
    finally:
        for m, f in flags:
            m.__dict__["training"] = f
    return rec


def _resize(t: Tensor, axes) -> Tensor:
    a = to_host(t.data)
    for ax in sorted(axes):
        n = a.shape[ax]
        if n == 0:
            raise ExportError(f"dynamic_axes: axis {ax} of an input of shape {t.shape} is empty; "
                              "export with an example that has at least one row")
        a = np.take(a, np.arange(n + 1) % n, axis=ax)
    return Tensor(move(a, device_of(t.data)))


def _record_resized(model, rec: Recording, input_dyn: list):
    resized = {id(t): _resize(t, d) if d else t for t, d in zip(rec.inputs, input_dyn)}
    args2 = map_tensors(rec.args, lambda t: resized[id(t)])
    kwargs2 = map_tensors(rec.kwargs, lambda t: resized[id(t)])
    what = ", ".join(f"input {i} {tuple(t.shape)} -> {tuple(resized[id(t)].shape)}"
                     for i, (t, d) in enumerate(zip(rec.inputs, input_dyn)) if d)
    try:
        out2, calls2, _ = _run(model, args2, kwargs2)
    except Exception as e:
        raise ExportError(f"dynamic_axes: the model fails when the dynamic axes change size "
                          f"({what}): {type(e).__name__}: {e}. Mark every axis that varies "
                          "together as dynamic, or export with fixed shapes.") from e
    if len(calls2) != len(rec.calls) or any(c.op is not c2[0] for c, c2 in
                                            zip(rec.calls, calls2)):
        raise ExportError("dynamic_axes: the model runs different ops when the dynamic axes "
                          f"change size ({what}), so one ONNX graph cannot serve every size; "
                          "export with fixed shapes")
    for t, d in zip(rec.inputs, input_dyn):
        rec.dyn[id(t)] = frozenset(d)
    for c, c2 in zip(rec.calls, calls2):
        c.alt = Call(*c2)
        for o, o2 in zip(c.outputs, c.alt.outputs):
            if not isinstance(o, Tensor):
                continue
            if o.ndim != o2.ndim:
                raise ExportError(f"dynamic_axes: op {c.op.__name__} gives a {o.ndim}-D result "
                                  f"for the example and a {o2.ndim}-D one when the dynamic "
                                  "axes change size", op=c.op.__name__)
            rec.dyn[id(o)] = frozenset(i for i, (a, b) in enumerate(zip(o.shape, o2.shape))
                                       if a != b)
    rec.alt_output = out2
