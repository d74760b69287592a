"""Gemm and MatMul: Y = alpha A' B' + beta C on ember's MatMul, or one fused Linear primitive
for the form ``nn.Linear`` exports (transB=1, alpha = beta = 1, a per-column C)."""
from __future__ import annotations

import numpy as np

from .. import ops as _ops
from ..ops import nn_layers as _lay
from ._import_registry import array, is_const, register, tensor


@register("MatMul")
def _matmul(n, a, b):
    if is_const(a, b):
        return np.asarray(np.matmul(a, b))
    return _ops.MatMul.apply(a, b)


@register("Gemm")
def _gemm(n, a, b, c=None):
    """Y = alpha A' B' + beta C with A' = A^T if transA, B' = B^T if transB. The common case
    (transB=1, alpha = beta = 1, as a Linear exports) is one fused Linear primitive."""
    alpha, beta = float(n.get("alpha", 1.0)), float(n.get("beta", 1.0))
    ta, tb = int(n.get("transA", 0)), int(n.get("transB", 0))
    a, b = tensor(a), tensor(b)
    if ta:
        a = a.transpose(1, 0)
    if tb and alpha == 1.0 and beta == 1.0 and (c is None or array(c).shape == b.shape[:1]):
        return _lay.Linear.apply(a, b, c)
    y = _ops.MatMul.apply(a, b.transpose(1, 0) if tb else b)
    if alpha != 1.0:
        y = y * np.asarray(alpha, y.dtype)
    if c is not None and beta != 0.0:
        y = y + (c if beta == 1.0 else c * np.asarray(beta, y.dtype))
    return y
