"""The importer's op table: ONNX op_type -> a converter that runs the node with ember ops.

A converter is ``fn(n, *inputs)``: ``n`` is the :class:`NodeCtx` of the node (attributes,
opset, name, the module's training flag), ``inputs`` the node's input values in order (None for
an omitted optional input). It returns one value or a tuple of values, one per node output.

Values are ember Tensors (anything that may carry a gradient) or NumPy arrays (constants:
Constant nodes, integer initializers and everything computed from them alone, e.g. the
Shape -> Gather -> Concat -> Reshape chains exporters emit for a flatten). Converters compute
on NumPy when all inputs are constants, so shapes are known eagerly for any batch size.

An optional ``check(n)`` runs at load time and raises :class:`UnsupportedOperatorError` for
attribute forms ember lacks, so a model that cannot run fails in ``load``, not in forward.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._import_errors import UnsupportedOperatorError

#: op_type -> (converter, check or None); filled by the ``_import_*`` op modules
OPS: dict = {}


def register(*op_types, check=None):
    """Register the decorated converter for ``op_types`` (with a load-time ``check``)."""
    def deco(fn):
        for t in op_types:
            OPS[t] = (fn, check)
        return fn
    return deco


def supported_ops() -> list:
    """The ONNX op_types ``ember.onnx.load`` can run (default domain), sorted."""
    from . import _import_ops  # noqa: F401  (fills OPS)
    return sorted(OPS)


class NodeCtx:
    """What a converter knows about its node: ``op_type``, ``name``, ``attrs`` (dict),
    ``opset`` (default-domain version), ``n_outputs`` (outputs the node declares), ``inputs``
    (input names, "" for an omitted optional one), ``module`` (the OnnxModule; ``training``
    reads its mode at call time)."""

    __slots__ = ("op_type", "name", "attrs", "opset", "n_outputs", "inputs", "module")

    def __init__(self, op_type, name, attrs, opset, n_outputs, inputs=(), module=None):
        self.op_type, self.name, self.attrs, self.opset = op_type, name, attrs, opset
        self.n_outputs, self.inputs, self.module = n_outputs, tuple(inputs), module

    @property
    def training(self) -> bool:
        return bool(self.module is not None and self.module.training)

    def get(self, key, default=None):
        return self.attrs.get(key, default)

    def unsupported(self, reason: str):
        """Raise the load-time error for an attribute form ember lacks."""
        raise UnsupportedOperatorError(self.op_type, self.name, reason=reason)

    def error(self, msg: str):
        """A ValueError naming this node (bad shapes or values at run time)."""
        return ValueError(f"ONNX {self.op_type} node {self.name!r}: {msg}")


# ---- value helpers ----------------------------------------------------------------------------
def is_const(*values) -> bool:
    """True when every (given) value is a NumPy constant."""
    return all(v is None or isinstance(v, np.ndarray) for v in values)


def tensor(v):
    """A Tensor for a value (NumPy constants are wrapped, not copied)."""
    return v if isinstance(v, Tensor) else Tensor(np.asarray(v))


def array(v):
    """The array of a value (Tensor data or the constant itself)."""
    return v.data if isinstance(v, Tensor) else np.asarray(v)


def ints(v) -> list:
    """A 1-D (or 0-d) integer value as a list of Python ints (shapes, axes, pads)."""
    return [int(x) for x in np.asarray(array(v)).reshape(-1)]


def shape_of(v) -> tuple:
    return tuple(v.shape)
