"""ONNX interchange: ``export`` an ember model, ``load`` an ONNX file as an ember Module.

Needs the optional extra ``onnx`` (``pip install 'ember[onnx]'``; onnxruntime is used to check
exports). ``import ember`` does not import onnx; these functions load it on first use.
"""
from __future__ import annotations

from ._export_errors import ExportError
from ._import_errors import OnnxImportError, UnsupportedOperatorError


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version: int = 17, **kwargs):
    """Export ``model`` called on ``args`` to the ONNX file (or binary stream) ``f``.

    PyTorch's signature; see :func:`ember.onnx.exporter.export`.
    """
    from .exporter import export as _export
    return _export(model, args, f, input_names=input_names, output_names=output_names,
                   dynamic_axes=dynamic_axes, opset_version=opset_version, **kwargs)


def load(f, **kwargs):
    """Load an ONNX model (path, bytes, stream or ``onnx.ModelProto``) as an ember Module.

    See :func:`ember.onnx.importer.load`.
    """
    from .importer import load as _load
    return _load(f, **kwargs)


__all__ = ["ExportError", "OnnxImportError", "UnsupportedOperatorError", "export", "load"]
