"""``ember.onnx.export``: an ember model as an ONNX file (PyTorch's ``torch.onnx.export``
signature).

How: the model runs once on ``args`` in eval mode under ember's recording dispatch mode
(``ember.graph.trace.record_module``, the tracer ``SummaryWriter.add_graph`` uses); each
recorded primitive call becomes ONNX nodes by its rule (``_export_ops``, ``_export_rnn``),
batch norm and PReLU layers become one node each (``_export_modules``). What the model computes
outside ember's ops (NumPy on ``.data``, ``.item()``, Python control flow) is baked in as
the example run took it, as with any tracing exporter.

Decisions:

- Names. Parameters and buffers are initializers named by their ``state_dict`` key
  (``0.weight``, ``bn.running_mean``); only those the graph reads are written. Inputs default
  to ``input`` (one) or ``input_0, input_1, ...``; outputs to ``output`` or ``output_0, ...``
  (the names ``ember.graph`` uses); ``input_names``/``output_names`` may name the first few.
- Inputs are the tensors (and arrays) in ``args``, depth-first through tuples, lists and a
  trailing keyword dict; other arguments (``None``, numbers) are passed to the model as they
  are and become constants.
- Outputs are the tensors of what the model returns, depth-first through tuples, lists and
  dict values (insertion order): an LSTM's ``(output, (h_n, c_n))`` gives three outputs.
  ``None`` entries are skipped; any other non-tensor output is an :class:`ExportError`.
- ``dynamic_axes`` as PyTorch's: ``{"input": {0: "batch"}}`` or ``{"input": [0]}`` (named
  ``input_dynamic_axes_1``...). Dynamic axes are found by recording the model a second time
  with those axes one longer; output dims that follow them get the input's symbol (or the
  name given for the output). Reshapes become ``0``/``-1`` targets, so another batch size runs.
- The model's training flags (every module's) are restored afterwards; the trace runs under
  ``no_grad``.
- The default IR version is the lowest the opset allows (8 for opset 17), which current
  onnxruntime loads. Opsets 17 and 18 are supported (18 moves reduction axes to inputs and
  allows integer bitwise ops).
- ``f`` is a path (written to a temporary file in the same directory, then renamed over the
  target, so a failed export never leaves half a file), a binary file-like object, or None.
  The ``onnx.ModelProto`` is returned in every case (PyTorch returns None).
"""
from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np

from ..tensor import Tensor
from ._export_errors import ExportError
from ._export_trace import leaves, record, split_args

SUPPORTED_OPSETS = (17, 18)


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ember.onnx.export needs the optional 'onnx' package: "
                          "pip install 'ember[onnx]' (or pip install onnx)") from None
    return onnx


def export(model, args, f, input_names: list[str] | None = None,
           output_names: list[str] | None = None, dynamic_axes: dict | None = None,
           opset_version: int = 17, *, export_params: bool = True, verbose: bool = False,
           do_constant_folding: bool = True):
    """Export ``model(*args)`` to ONNX and write it to ``f`` (a path, a binary stream, or
    None); returns the ``onnx.ModelProto``.

    ``args``: a tensor/array, or a tuple of positional arguments (a trailing dict: keyword
    arguments). ``input_names``/``output_names``: names for the graph's inputs and outputs,
    in order (defaults ``input``/``output``, numbered when there are several).
    ``dynamic_axes``: ``{name: {axis: symbol}}`` or ``{name: [axis, ...]}`` for inputs and
    outputs whose size may change (typically the batch, ``{"input": {0: "batch"}}``).
    ``opset_version``: 17 (default) or 18.

    Keyword-only, for PyTorch callers: ``export_params`` must be True (weights are always
    written), ``verbose=True`` prints the graph, ``do_constant_folding`` is accepted and has
    no effect (the only constant subgraphs are weight reorderings that runtimes fold at load).

    The graph's outputs are the tensors of what ``model`` returns, depth-first through tuples,
    lists and dict values (``None`` skipped; other non-tensors are an error): an LSTM's
    ``(output, (h_n, c_n))`` gives three outputs.

    Raises :class:`ember.onnx.ExportError` (a RuntimeError) naming the op and the layer for
    anything ONNX cannot express.
    """
    from ..nn.module import Module
    if not isinstance(model, Module):
        raise TypeError(f"ember.onnx.export: model must be an ember.nn.Module, got "
                        f"{type(model).__name__}")
    onnx = _onnx()
    from ._export_builder import GraphBuilder, onnx_dtype
    from ._export_graph import GraphWalker
    from ._export_modules import lowering_for
    from ._export_ops import RULES

    if not export_params:
        raise ValueError("ember.onnx.export: export_params=False (weights as graph inputs) is "
                         "not supported; the weights are always written as initializers")
    if opset_version not in SUPPORTED_OPSETS:
        raise ValueError(f"ember.onnx.export: opset_version {opset_version} is not supported "
                         f"(supported: {', '.join(map(str, SUPPORTED_OPSETS))})")
    pos, kwargs = split_args(args)
    pos = tuple(Tensor(a) if isinstance(a, np.ndarray) else a for a in pos)
    kwargs = {k: Tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    inputs = leaves((pos, kwargs))
    in_names = _names(input_names, len(inputs), "input")
    # output names are only known after the run; dynamic axes of inputs are needed before it
    spec = _dynamic_spec(dynamic_axes)
    input_dyn = [set(_axes_of(spec, n, t.ndim, "input")) for n, t in zip(in_names, inputs)]
    rec = record(model, pos, kwargs, input_dyn)
    outputs = _flat_outputs(rec.output)
    out_names = _names(output_names, len(outputs), "output")
    unknown = set(spec) - set(in_names) - set(out_names)
    if unknown:
        raise ValueError(f"dynamic_axes names {sorted(unknown)}, which are neither inputs "
                         f"{in_names} nor outputs {out_names}")

    b = GraphBuilder(onnx, opset_version)
    for n in in_names + out_names:
        b.reserve(n)
    walker = GraphWalker(b, rec, RULES, lowering_for, _param_names(model),
                         {id(m): p for p, m in model.named_modules()})
    graph_inputs = []
    for name, t, dims in zip(in_names, inputs, input_dyn):
        walker.values[id(t)] = name
        walker.input_names[id(t)] = name
        syms = spec.get(name, {})
        shape = [syms[d] if d in syms else int(n) for d, n in enumerate(t.shape)]
        graph_inputs.append(onnx.helper.make_tensor_value_info(
            name, onnx_dtype(onnx, t.data.dtype), shape))
    walker.run(outputs)
    graph_outputs = []
    claimed = set()
    produced = {o for n in b.nodes for o in n.output}
    renames = {}
    for name, t in zip(out_names, outputs):
        have = walker.values.get(id(t))
        if have is None:
            have = walker.name_of(t)     # an input, parameter or constant returned as is
        if have in produced and have not in claimed and have not in in_names:
            renames[have] = name
            claimed.add(have)
        else:
            b.node("Identity", [have], outputs=[name])
        shape = _output_shape(rec, spec, name, t, inputs, in_names)
        graph_outputs.append(onnx.helper.make_tensor_value_info(
            name, onnx_dtype(onnx, t.data.dtype), shape))
    for node in b.nodes:
        node.input[:] = [renames.get(v, v) for v in node.input]
        node.output[:] = [renames.get(v, v) for v in node.output]

    read = {v for n in b.nodes for v in n.input} | set(out_names)
    for name in in_names:
        if name not in read:
            warnings.warn(f"ember.onnx.export: input {name!r} is not read by the exported "
                          "graph (a model that reads it outside ember's ops, e.g. through "
                          ".numpy(), had its values baked in)", UserWarning, stacklevel=2)
    graph = onnx.helper.make_graph(b.nodes, type(model).__name__, graph_inputs, graph_outputs,
                                   initializer=b.initializers)
    opsets = [onnx.helper.make_opsetid("", opset_version)]
    from .. import __version__
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="ember",
                                   producer_version=__version__,
                                   ir_version=onnx.helper.find_min_ir_version_for(opsets))
    if proto.ByteSize() >= 2 ** 31:
        raise ExportError(f"cannot export the model: it needs {proto.ByteSize() / 2**30:.1f} "
                          "GiB, beyond protobuf's 2 GiB limit for one ONNX file")
    if verbose:
        print(onnx.printer.to_text(proto.graph))
    if f is not None:
        _write(proto, f)
    return proto


# ---- names and dynamic axes -------------------------------------------------------------
def _names(given, n, base):
    given = list(given or [])
    if len(given) > n:
        raise ValueError(f"{len(given)} {base} names given ({given}) for {n} {base}s")
    if len(set(given)) != len(given):
        raise ValueError(f"{base} names repeat: {given}")
    default = [base] if n == 1 else [f"{base}_{i}" for i in range(n)]
    names = given + default[len(given):]
    if len(set(names)) != n:
        raise ValueError(f"{base} names {names} repeat (a given name equals a default one)")
    return names


def _dynamic_spec(dynamic_axes) -> dict:
    """{name: {axis: symbol}} from PyTorch's two forms (axes not yet range-checked)."""
    spec = {}
    for name, axes in (dynamic_axes or {}).items():
        if isinstance(axes, dict):
            spec[name] = {int(a): str(s) for a, s in axes.items()}
        elif isinstance(axes, (list, tuple)):
            spec[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
        else:
            raise TypeError(f"dynamic_axes[{name!r}] must be a dict {{axis: name}} or a list of "
                            f"axes, got {type(axes).__name__}")
    return spec


def _axes_of(spec, name, ndim, what):
    """Normalise the axes given for ``name`` (negative allowed) against its rank."""
    axes = spec.get(name, {})
    out = {}
    for a, s in axes.items():
        if not -ndim <= a < ndim:
            raise ValueError(f"dynamic_axes[{name!r}]: axis {a} is out of range for the "
                             f"{ndim}-D {what}")
        out[a % ndim] = s
    if axes:
        spec[name] = out
    return out


def _output_shape(rec, spec, name, t, inputs, in_names):
    syms = _axes_of(spec, name, t.ndim, "output")
    dyn = rec.dyn.get(id(t), frozenset())
    alt = _alt_of(rec, t)
    shape = []
    for d, n in enumerate(t.shape):
        if d in syms:
            shape.append(syms[d])
        elif d in dyn:
            shape.append(_symbol_like(rec, spec, n, alt[d], inputs, in_names) or f"{name}_dim{d}")
        else:
            shape.append(int(n))
    return shape


def _alt_of(rec, t):
    for c in rec.calls:
        for o, o2 in zip(c.outputs, c.alt.outputs if c.alt else ()):
            if o is t:
                return o2.shape
    return t.shape


def _symbol_like(rec, spec, n, n2, inputs, in_names):
    """The symbol of an input dim whose sizes in both recordings are (n, n2)."""
    for name, x in zip(in_names, inputs):
        for d, s in spec.get(name, {}).items():
            if x.shape[d] == n and x.shape[d] + 1 == n2:
                return s
    return None


# ---- model parts ------------------------------------------------------------------------
def _param_names(model) -> dict:
    names = {}
    for n, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t is not None:
            names.setdefault(id(t), n)
    return names


def _flat_outputs(out) -> list:
    flat = []

    def visit(o, where):
        if o is None:
            return
        if isinstance(o, Tensor):
            flat.append(o)
        elif isinstance(o, (tuple, list)):
            for i, v in enumerate(o):
                visit(v, f"{where}[{i}]")
        elif isinstance(o, dict):
            for k, v in o.items():
                visit(v, f"{where}[{k!r}]")
        else:
            raise ExportError(f"cannot export the model: its output {where} is a "
                              f"{type(o).__name__}, not a Tensor (outputs are the tensors of "
                              "what forward returns, through tuples, lists and dicts)")

    visit(out, "output")
    if not flat:
        raise ExportError("cannot export the model: its forward returned no tensor")
    return flat


def _write(proto, f):
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
        return
    if not isinstance(f, (str, bytes, os.PathLike)):
        raise TypeError(f"ember.onnx.export: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
    path = os.fspath(f)
    path = path.decode() if isinstance(path, bytes) else path
    path = os.path.realpath(path)          # a symlink stays; its target is replaced
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"ember.onnx.export: folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
