"""Reading the ONNX protobuf: the model from a path / bytes / stream / ModelProto, attributes as
Python values and TensorProtos as NumPy arrays. The only module of the importer that talks to
the onnx package directly (imported lazily: ``import ember`` never loads onnx)."""
from __future__ import annotations

import os

import numpy as np

from ._import_errors import OnnxImportError


def require_onnx():
    """The onnx module, or an ImportError that says what to install."""
    try:
        import onnx
    except ImportError:
        raise ImportError("ember.onnx.load needs the onnx package: pip install 'ember[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


def read_model(f):
    """A ModelProto from a path, bytes, a binary stream or a ModelProto."""
    onnx = require_onnx()
    if isinstance(f, onnx.ModelProto):
        return f
    if isinstance(f, (bytes, bytearray, memoryview)):
        data, what = bytes(f), f"{len(f)} bytes"
    elif isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ember.onnx.load: no ONNX file at {path!r}")
        try:  # onnx.load also resolves external-data tensors next to the file
            model = onnx.load(path)
        except Exception as e:
            raise OnnxImportError(f"ember.onnx.load: {path!r} is not a readable ONNX model "
                                  f"({type(e).__name__}: {e})") from None
        return _check(model, repr(path))
    elif hasattr(f, "read"):
        data, what = f.read(), "the stream"
        if isinstance(data, str):
            raise OnnxImportError("ember.onnx.load: the stream is in text mode; open the file "
                                  "with 'rb'")
    else:
        raise TypeError(f"ember.onnx.load: expected a path, bytes, a binary stream or an "
                        f"onnx.ModelProto, got {type(f).__name__}")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:
        raise OnnxImportError(f"ember.onnx.load: {what} are not an ONNX model "
                              f"({type(e).__name__}: {e})") from None
    return _check(model, what)


def _check(model, what):
    if not model.HasField("graph") or not model.graph.node and not model.graph.output:
        raise OnnxImportError(f"ember.onnx.load: {what} hold no ONNX graph (empty or not a "
                              "ModelProto)")
    return model


def opset_of(model) -> int:
    """The opset version of the default ("" / "ai.onnx") domain."""
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 1 if not model.opset_import else 17


def to_array(tensor) -> np.ndarray:
    """TensorProto -> a NumPy array (a copy that owns its memory and is writable)."""
    from onnx import numpy_helper
    return np.array(numpy_helper.to_array(tensor), copy=True)


def np_dtype(elem_type: int):
    """ONNX TensorProto.DataType -> NumPy dtype."""
    from onnx import helper
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def attributes(node) -> dict:
    """Node attributes as Python values: ints, floats, strings (str), lists, arrays."""
    from onnx import AttributeProto as A
    out = {}
    for a in node.attribute:
        t = a.type
        if t == A.INT:
            v = int(a.i)
        elif t == A.FLOAT:
            v = float(a.f)
        elif t == A.STRING:
            v = a.s.decode("utf-8", "replace")
        elif t == A.INTS:
            v = [int(x) for x in a.ints]
        elif t == A.FLOATS:
            v = [float(x) for x in a.floats]
        elif t == A.STRINGS:
            v = [s.decode("utf-8", "replace") for s in a.strings]
        elif t == A.TENSOR:
            v = to_array(a.t)
        elif t == A.GRAPH:
            v = a.g
        else:
            v = a
        out[a.name] = v
    return out


def value_info_shape(vi):
    """(dtype or None, [dim as int or str or None, ...] or None) of a graph input/output."""
    tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if tt is None:
        return None, None
    dtype = np_dtype(tt.elem_type) if tt.elem_type else None
    if not tt.HasField("shape"):
        return dtype, None
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dtype, dims
