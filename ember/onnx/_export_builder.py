"""Building an ONNX graph node by node: unique value names, Constant nodes, initializers and
the few opset-dependent spellings (reduction axes, Squeeze/Unsqueeze axes as inputs).

The builder knows nothing of ember; the exporter and the op rules call it.
"""
from __future__ import annotations

import numpy as np


class GraphBuilder:
    """Collects nodes and initializers for one ``onnx.GraphProto``.

    ``scope`` (a module path, set by the exporter before each op) prefixes node names, so a
    node reads ``/features.0/Conv_3`` as PyTorch's exporter names them.
    """

    def __init__(self, onnx, opset: int):
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self.used = set()        # every value and node name handed out
        self.scope = ""
        self._count = 0
        self._consts = {}        # small constants, shared: (dtype, shape, bytes) -> name

    # ---- names --------------------------------------------------------------------------
    def reserve(self, name: str) -> str:
        """Claim ``name`` exactly (graph inputs, outputs, initializers)."""
        if name in self.used:
            raise ValueError(f"ONNX name {name!r} is used twice")
        self.used.add(name)
        return name

    def fresh(self, hint: str) -> str:
        """A new unique name built from ``hint``."""
        while True:
            self._count += 1
            name = f"{hint}_{self._count}"
            if name not in self.used:
                self.used.add(name)
                return name

    # ---- nodes --------------------------------------------------------------------------
    def node(self, op_type: str, inputs, outputs: int | list = 1, **attrs):
        """Append a node; returns its output name (or the list of them when ``outputs`` is a
        count > 1 or a list of names). Empty-string inputs are omitted optional inputs."""
        prefix = f"/{self.scope}" if self.scope else ""
        many = isinstance(outputs, list) or outputs != 1
        names = outputs if isinstance(outputs, list) else \
            [self.fresh(f"{prefix}/{op_type}_output") for _ in range(outputs)]
        inputs = list(inputs)
        while inputs and inputs[-1] == "":  # trailing omitted optionals need no slot
            inputs.pop()
        attrs = {k: v for k, v in attrs.items() if v is not None}
        n = self.helper.make_node(op_type, inputs, names, name=self.fresh(f"{prefix}/{op_type}"),
                                  **attrs)
        self.nodes.append(n)
        return names if many else names[0]

    # ---- constants ----------------------------------------------------------------------
    def const(self, value, dtype=None, hint: str = "const") -> str:
        """A Constant node holding ``value`` (cast to ``dtype`` when given). Small constants of
        equal dtype, shape and bytes are shared."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == object:
            raise TypeError(f"cannot make an ONNX constant of {value!r}")
        arr = np.array(arr, order="C", copy=None)  # (ascontiguousarray makes 0-d 1-D)
        key = None
        if arr.size <= 64:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        prefix = f"/{self.scope}" if self.scope else ""
        name = self.fresh(f"{prefix}/{hint}")
        tensor = self.onnx.numpy_helper.from_array(arr, name=name)
        self.nodes.append(self.helper.make_node("Constant", [], [name], value=tensor,
                                                name=self.fresh(f"{prefix}/Constant")))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values) -> str:
        """A 1-D int64 Constant (shapes, axes, pads, indices)."""
        return self.const(np.asarray(list(values), np.int64).reshape(-1), hint="ints")

    def initializer(self, name: str, array) -> str:
        arr = np.array(array, order="C", copy=None)
        self.reserve(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name=name))
        return name

    # ---- spellings that depend on the opset ---------------------------------------------
    def unsqueeze(self, x: str, axes) -> str:
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x: str, axes) -> str:
        return self.node("Squeeze", [x, self.ints(axes)])

    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """``Reduce*`` over ``axes`` (None: every axis). ReduceSum takes its axes as an input
        from opset 13, the others from opset 18; before that they are an attribute."""
        k = int(bool(keepdims))
        if axes is None:
            return self.node(op_type, [x], keepdims=k)
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=k)
        return self.node(op_type, [x], axes=axes, keepdims=k)

    def cast(self, x: str, dtype) -> str:
        return self.node("Cast", [x], to=onnx_dtype(self.onnx, dtype))


def onnx_dtype(onnx, dtype) -> int:
    """The ``TensorProto`` element type of a NumPy dtype."""
    dtype = np.dtype(dtype)
    try:
        return onnx.helper.np_dtype_to_tensor_dtype(dtype)
    except (KeyError, TypeError, ValueError):
        raise TypeError(f"dtype {dtype} has no ONNX element type") from None
