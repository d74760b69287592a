"""``ember.onnx.load``: an ONNX model as an ember ``nn.Module`` that runs the graph with ember's
own primitives, so autograd, optimizers, ``state_dict`` and ``train()/eval()`` work on it.

- Float initializers become ``nn.Parameter``s. Their dotted names become the module tree, so
  a PyTorch export keeps PyTorch's ``state_dict`` keys (``fc1.weight``); other characters are
  replaced by ``_`` (``onnx::LSTM_93`` -> ``onnx__LSTM_93``; ``module.onnx_names`` maps
  back). The running mean / variance of a BatchNormalization become buffers (state, not
  learnt). Other initializers (shapes,
  indices) and Constant nodes stay NumPy constants.
- The graph is checked when loading: an operator ember lacks raises
  :class:`UnsupportedOperatorError` naming the op and the node (and listing what is supported).
- Each forward walks the nodes in order. Values computed only from constants (the Shape ->
  Gather -> Concat -> Reshape chains exporters write for a flatten) are evaluated with NumPy on
  the actual input, so a dynamic batch works.
- ``model.eval()`` / ``model.train()`` switch Dropout (identity vs. inverted dropout) and
  BatchNormalization (running statistics vs. batch statistics with the running statistics
  updated as PyTorch's BatchNorm does, so fine-tuning a CNN in train mode behaves like the
  original PyTorch model; ONNX's own training BN is the same formula). A loaded model starts
  in eval mode, the mode exporters write.
"""
from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np

from ..nn.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor
from ._import_errors import OnnxImportError, UnsupportedOperatorError
from ._import_proto import attributes, opset_of, read_model, to_array, value_info_shape
from ._import_registry import OPS, NodeCtx, supported_ops

_DOMAINS = ("", "ai.onnx")
#: BatchNormalization inputs 3 and 4 (running mean and variance) are buffers, not parameters
_BN_STATS = {("BatchNormalization", 3), ("BatchNormalization", 4)}


def load(f, *, strict_inputs: bool = True) -> "OnnxModule":
    """Load an ONNX model as an ember Module.

    ``f``: a path, ``bytes``, a binary stream or an ``onnx.ModelProto``. Returns an
    :class:`OnnxModule` in eval mode; call it with the graph inputs in order (or by name).
    ``strict_inputs``: check each input's rank and fixed dims against the graph's declaration.
    Raises :class:`UnsupportedOperatorError` for an operator ember cannot run.
    """
    model = read_model(f)
    return OnnxModule(model, strict_inputs=strict_inputs)


def _sanitize(name: str, taken: set) -> str:
    """A Python identifier-like name for one ONNX name part, unique within ``taken``."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_") or "param"
    base, k = s, 1
    while s in taken:
        k += 1
        s = f"{base}_{k}"
    taken.add(s)
    return s


class _Scope(Module):
    """A namespace in the parameter tree (``fc1`` of ``fc1.weight``); it has no forward."""

    def forward(self, *args, **kwargs):
        raise TypeError("this is a parameter namespace of an OnnxModule, not a layer")

    def extra_repr(self):
        items = list(self._parameters.items()) + list(self._buffers.items())
        return ", ".join(f"{k}: {tuple(v.shape)}" for k, v in items if v is not None)


class OnnxModule(Module):
    """An ONNX graph run by ember ops. ``forward(*inputs, **named_inputs)`` takes the graph
    inputs (Tensors or arrays) in order or by name and returns one Tensor, or a tuple for a
    graph with several outputs.

    Attributes: ``input_names``, ``output_names``, ``opset``, ``onnx_names`` (parameter or
    buffer name -> ONNX initializer name)."""

    def __init__(self, model, strict_inputs: bool = True):
        super().__init__()
        from . import _import_ops  # noqa: F401  (fills OPS)
        g = model.graph
        self.opset = opset_of(model)
        self.strict_inputs = strict_inputs
        self.onnx_names = OrderedDict()
        inits = {t.name: t for t in g.initializer}
        stats = {node.input[i] for node in g.node for (op, i) in _BN_STATS
                 if node.op_type == op and len(node.input) > i}
        uses = {}
        for node in g.node:
            for i, name in enumerate(node.input):
                uses.setdefault(name, set()).add((node.op_type, i))
        consts, env = {}, {}
        for name, t in inits.items():
            arr = to_array(t)
            if arr.dtype.kind == "f":
                owner, key, path = self._place(name)
                only_stats = name in stats and all(u in _BN_STATS for u in uses.get(name, ()))
                if only_stats:
                    owner.register_buffer(key, Tensor(arr))
                else:
                    owner.register_parameter(key, Parameter(arr))
                self.onnx_names[path] = name
                env[name] = (owner, key)
            else:
                consts[name] = arr
        # PyTorch dedups equal initializers: an untrained BN exports running_var =
        # Identity(weight) and running_mean = Identity(bias). Give such statistics their own
        # buffer (named by the Identity's output, PyTorch's buffer name), so training the
        # weight never moves the statistics and state_dict has PyTorch's keys.
        outputs = {o.name for o in g.output}
        skip = set()
        for k, node in enumerate(g.node):
            if node.op_type != "Identity" or node.domain not in _DOMAINS:
                continue
            src, out = node.input[0], node.output[0]
            if src in env and out not in outputs and uses.get(out) and \
                    all(u in _BN_STATS for u in uses[out]):
                owner, key, path = self._place(out)
                owner.register_buffer(key, Tensor(to_array(inits[src])))
                self.onnx_names[path] = out
                env[out] = (owner, key)
                skip.add(k)
        self._consts = consts
        self._slots = env                        # ONNX name -> (module, attribute)
        self.input_names, self._input_specs = [], []
        for vi in g.input:
            if vi.name in inits:                 # old exporters list initializers as inputs
                continue
            self.input_names.append(vi.name)
            self._input_specs.append(value_info_shape(vi))
        self.output_names = [o.name for o in g.output]
        self._plan = self._compile(g, skip)
        self.train(False)

    def _place(self, name):
        """(owning module, attribute, dotted path) for an initializer: each dotted part a
        submodule, characters other than letters, digits and _ replaced by _."""
        parts = [re.sub(r"[^0-9A-Za-z_]", "_", p) or "_" for p in name.split(".")]
        owner = self
        for p in parts[:-1]:
            sub = owner._modules.get(p)
            if sub is None:
                if p in owner._parameters or p in owner._buffers or p in owner.__dict__:
                    return self._flat(name)
                sub = _Scope()
                owner.add_module(p, sub)
            owner = sub
        key = parts[-1]
        if key in owner._parameters or key in owner._buffers or key in owner._modules or \
                hasattr(type(owner), key) or key in owner.__dict__:
            return self._flat(name)
        path = ".".join(parts)
        return owner, key, path

    def _flat(self, name):
        taken = set(self._parameters) | set(self._buffers) | set(self._modules) | \
            set(dir(type(self))) | set(self.__dict__)
        key = _sanitize(name.replace(".", "_"), taken)
        return self, key, key

    # ---- load-time checks ---------------------------------------------------------------
    def _compile(self, g, skip=()):
        plan = []
        for k, node in enumerate(g.node):
            if k in skip:
                continue
            label = node.name or f"{node.op_type}_{k}"
            if node.domain not in _DOMAINS or node.op_type not in OPS:
                raise UnsupportedOperatorError(node.op_type, label, node.domain,
                                               supported=OPS)
            fn, check = OPS[node.op_type]
            n = NodeCtx(node.op_type, label, attributes(node), self.opset, len(node.output),
                        node.input, self)
            if check is not None:
                check(n)
            plan.append((fn, n, list(node.input), list(node.output)))
        known = set(self.input_names) | set(self._consts) | set(self._slots)
        for fn, n, ins, outs in plan:
            for name in ins:
                if name and name not in known:
                    raise OnnxImportError(f"ONNX {n.op_type} node {n.name!r} reads {name!r}, "
                                          "which no earlier node, input or initializer "
                                          "defines (graph not in topological order?)")
            known.update(o for o in outs if o)
        for name in self.output_names:
            if name not in known:
                raise OnnxImportError(f"graph output {name!r} is never computed")
        return plan

    # ---- running ------------------------------------------------------------------------
    def _bind_inputs(self, args, kwargs):
        names = self.input_names
        if len(args) > len(names):
            raise TypeError(f"OnnxModule takes {len(names)} input(s) {names}, got {len(args)}")
        values = dict(zip(names, args))
        for k, v in kwargs.items():
            name = k if k in names else next((m for m in names if _sanitize(m, set()) == k),
                                             None)
            if name is None:
                raise TypeError(f"OnnxModule: unknown input {k!r}; inputs are {names}")
            if name in values:
                raise TypeError(f"OnnxModule: input {name!r} given twice")
            values[name] = v
        missing = [m for m in names if m not in values]
        if missing:
            raise TypeError(f"OnnxModule: missing input(s) {missing} (inputs, in order: "
                            f"{names})")
        out = {}
        for name, (dtype, dims) in zip(names, self._input_specs):
            v = values[name]
            t = v if isinstance(v, Tensor) else Tensor(np.asarray(v))
            if dtype is not None and t.dtype != dtype:
                if t.dtype.kind in "fiub" and (dtype.kind == "f" or t.dtype.kind != "f"):
                    t = t.astype(dtype)
                else:
                    raise TypeError(f"OnnxModule: input {name!r} must be {dtype}, got "
                                    f"{t.dtype}")
            if self.strict_inputs and dims is not None:
                bad = len(dims) != t.ndim or any(isinstance(d, int) and d > 0 and d != s
                                                 for d, s in zip(dims, t.shape))
                if bad:
                    want = "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"
                    raise ValueError(f"OnnxModule: input {name!r} must have shape {want}, "
                                     f"got {tuple(t.shape)}")
            out[name] = t
        return out

    def forward(self, *inputs, **named_inputs):
        env = dict(self._consts)
        for onnx_name, (owner, key) in self._slots.items():
            env[onnx_name] = getattr(owner, key)
        env.update(self._bind_inputs(inputs, named_inputs))
        env[""] = None                           # omitted optional inputs
        for fn, n, ins, outs in self._plan:
            args = [env[i] for i in ins]
            while args and args[-1] is None:     # trailing omitted inputs take defaults
                args.pop()
            try:
                res = fn(n, *args)
            except (TypeError, IndexError) as e:
                raise type(e)(f"{e} (in ONNX {n.op_type} node {n.name!r})") from None
            except ValueError as e:
                if n.name in str(e):
                    raise
                raise ValueError(f"ONNX {n.op_type} node {n.name!r}: {e}") from None
            if len(outs) == 1:
                env[outs[0]] = res
            else:
                res = res if isinstance(res, tuple) else (res,)
                for name, v in zip(outs, res):
                    if name:
                        env[name] = v
        results = tuple(_as_tensor(env[o]) for o in self.output_names)
        return results[0] if len(results) == 1 else results

    def extra_repr(self):
        return (f"inputs={self.input_names}, outputs={self.output_names}, opset={self.opset}, "
                f"nodes={len(self._plan)}")


def _as_tensor(v):
    return v if isinstance(v, Tensor) else Tensor(np.asarray(v))


__all__ = ["load", "OnnxModule", "UnsupportedOperatorError", "OnnxImportError",
           "supported_ops"]
