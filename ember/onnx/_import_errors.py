"""Errors of the ONNX importer. Defined without importing onnx, so ``ember.onnx`` can name them
(``except ember.onnx.UnsupportedOperatorError``) even where the onnx package is absent."""
from __future__ import annotations


class UnsupportedOperatorError(NotImplementedError):
    """An ONNX node that ember cannot run: an operator (or an attribute / input form of one)
    ember lacks. Raised by ``ember.onnx.load`` while reading the graph, never at first forward.

    Attributes: ``op_type``, ``node_name``, ``domain``, ``reason`` (None for an unknown op)."""

    def __init__(self, op_type: str, node_name: str, domain: str = "", reason: str | None = None,
                 supported=()):
        self.op_type, self.node_name, self.domain, self.reason = op_type, node_name, domain, reason
        where = f"node {node_name!r}" if node_name else "an unnamed node"
        full = f"{domain}.{op_type}" if domain and domain != "ai.onnx" else op_type
        if reason is None:
            msg = (f"ONNX operator {full} ({where}) is not supported by ember.onnx.load; "
                   f"supported operators: {', '.join(sorted(supported))}")
        else:
            msg = f"ONNX operator {full} ({where}): {reason}"
        super().__init__(msg)


class OnnxImportError(ValueError):
    """A model that cannot be read: not an ONNX file, a malformed graph, a bad input."""
