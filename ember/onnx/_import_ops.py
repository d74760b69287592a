"""Imports every converter module so the op table (``_import_registry.OPS``) is complete."""
from . import (_import_conv, _import_linalg, _import_math, _import_norm,  # noqa: F401
               _import_pool, _import_reduce, _import_resize, _import_rnn, _import_shape)
