"""The error ``ember.onnx.export`` raises for a model it cannot express in ONNX."""
from __future__ import annotations


class ExportError(RuntimeError):
    """A model (or one of its ops) cannot be exported to ONNX.

    ``op`` is the primitive's name (``None`` when the problem is not one op) and ``layer`` the
    module path of the layer whose forward made the call (``""`` for the model itself), so
    the message says what to change and where.
    """

    def __init__(self, message: str, op: str | None = None, layer: str | None = None):
        super().__init__(message)
        self.op = op
        self.layer = layer
