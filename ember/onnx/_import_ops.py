"""Imports every converter module so the op table (``_import_registry.OPS``) is complete."""
from . import _import_math, _import_nn, _import_resize, _import_rnn, _import_shape  # noqa: F401
