"""Moving between devices as a primitive, so gradients flow back to the source device."""
from .. import backend
from .function import Function


class ToDevice(Function):
    """``y = x`` on another device; the gradient is moved back to ``x``'s device.
    ``device`` (an ``ember.device``) is a static attribute."""

    saves_inputs = False

    @staticmethod
    def forward(ctx, a, device=None):
        ctx.src = backend.device_of(a)
        return backend.move(a, device)

    @staticmethod
    def backward(ctx, g):
        return backend.move(g, ctx.src)
