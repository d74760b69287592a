"""Special functions as primitives: ``Erf`` (ONNX's Erf, which PyTorch's exact GELU exports to
before opset 20).

erf(x) = 2/sqrt(pi) * int_0^x e^(-t^2) dt; d/dx erf(x) = 2/sqrt(pi) e^(-x^2).
"""
import math

from ..backend import get_array_module
from .function import Function
from .nn_activation import erf as _erf

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Function):
    """The error function (exact in float64 on the host, < 1.2e-7 relative error otherwise)."""

    @staticmethod
    def forward(ctx, a):
        if ctx is not None:
            ctx.a = a
        return _erf(a)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        a = ctx.a
        return (g * (_TWO_OVER_SQRT_PI * xp.exp(-(a * a)))).astype(g.dtype, copy=False)
