"""The graph as a TensorFlow ``GraphDef`` protobuf, hand-encoded (``ember.io._protobuf``), so
TensorBoard's Graphs tab draws it: one ``NodeDef`` per node (name with its name scopes, op type,
inputs by name, ``^name`` for control inputs) with ``dtype`` and ``_output_shapes`` attributes.

Field numbers from TensorFlow's ``graph.proto``, ``node_def.proto``, ``attr_value.proto``,
``tensor_shape.proto``, ``types.proto`` and ``versions.proto``.
"""
from __future__ import annotations

import numpy as np

from ..io import _protobuf as pb

_DTYPES = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6,
           "object": 7, "int64": 9, "bool": 10, "float16": 19}
_PRODUCER = 27


def dtype_enum(dtype) -> int:
    return _DTYPES.get(str(np.dtype(dtype)), 0) if dtype is not None else 0


def shape_proto(shape) -> bytes:
    """TensorShapeProto: dims (size -1 for unknown), or unknown_rank."""
    if shape is None:
        return pb.uint(3, 1)
    return b"".join(pb.message(2, pb.uint(1, -1 if d is None else int(d))) for d in shape)


def _attr(key: str, value: bytes) -> bytes:
    return pb.message(5, pb.string(1, key), pb.message(2, value))


def node_def(name: str, op: str, inputs: list[str], dtype=None, shapes=None,
             extra: dict | None = None) -> bytes:
    out = pb.string(1, name) + pb.string(2, op)
    out += b"".join(pb.string(3, i) for i in inputs)
    if dtype is not None and dtype_enum(dtype):
        out += _attr("dtype" if op in ("Placeholder", "VariableV2", "Const") else "T",
                     pb.uint(6, dtype_enum(dtype)))
    if shapes is not None:
        out += _attr("_output_shapes",
                     pb.message(1, b"".join(pb.message(7, shape_proto(s)) for s in shapes)))
    for k, v in (extra or {}).items():
        out += _attr(k, pb.string(2, v))
    return out


def _input_name(v) -> str:
    return v.node.name if v.index == 0 else f"{v.node.name}:{v.index}"


def graph_def(graph) -> bytes:
    """Serialized GraphDef of an ``ember.graph.Graph``."""
    nodes = []
    for n in graph.nodes:
        inputs = [_input_name(v) for v in n.deps] + [f"^{c.name}" for c in n.control]
        if n.kind == "grad":
            inputs.append(f"^{n.attrs['forward'].name}")
        if n.kind == "assign":
            inputs.insert(0, n.attrs["var"].name)
        dtype = n.outputs[0].dtype if n.outputs else None
        nodes.append(node_def(n.name, n.type, inputs, dtype, [o.shape for o in n.outputs]))
    versions = pb.message(4, pb.uint(1, _PRODUCER))
    return b"".join(pb.message(1, x) for x in nodes) + versions
