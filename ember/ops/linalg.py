"""Matrix multiplication (vector, matrix and batched, with NumPy's broadcasting rules).

For C = A B: dL/dA = dL/dC B^T and dL/dB = A^T dL/dC, summed over broadcast batch axes.
"""
import numpy as np

from ..backend import get_array_module
from .function import Function
from .elementwise import unbroadcast


def _check(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape} (use * for scalars)")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                         f"{ka} (last dim of the first) != {kb} "
                         f"({'only' if b.ndim == 1 else 'second-to-last'} dim of the second)")


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        try:
            return a @ b  # the operator: the arrays' own library, no module lookup
        except ValueError:
            _check(a if hasattr(a, "ndim") else np.asarray(a),
                   b if hasattr(b, "ndim") else np.asarray(b))
            raise

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        if a.ndim == 2 and b.ndim == 2:  # the common case, no reshaping
            ga = g @ b.T if ctx.needs[0] else None
            gb = a.T @ g if ctx.needs[1] else None
            return ga, gb
        if a.ndim == 1 and b.ndim == 1:  # dot product
            return (g * b if ctx.needs[0] else None), (g * a if ctx.needs[1] else None)
        xp = get_array_module(g)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if ctx.needs[0]:
            ga = unbroadcast(g2 @ xp.swapaxes(b2, -1, -2), a2.shape)
            if a.ndim == 1:
                ga = ga.reshape(a.shape)
        if ctx.needs[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # (..., n, k) @ (k, m): fold the batch into rows, one GEMM instead of a batched
                # product followed by a sum over the batch.
                k = a2.shape[-1]
                gb = a2.reshape(-1, k).T @ g2.reshape(-1, g2.shape[-1])
            else:
                gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g2, b2.shape)
            if b.ndim == 1:
                gb = gb.reshape(b.shape)
        return ga, gb
