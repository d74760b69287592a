"""Layers exported whole: their eval-mode forward is a chain of primitives that spells out
one ONNX operator, which runtimes implement (and fuse) directly.

- ``nn.BatchNorm1d/2d`` with running statistics, in eval mode: ember computes
  ``x * (gamma / sqrt(var + eps)) + (beta - mean * gamma / sqrt(var + eps))`` from
  primitives; ONNX has ``BatchNormalization`` in inference form (``training_mode=0``) on the
  same five tensors, which keep their names (``bn.running_mean``, ...).
- ``nn.PReLU``: ``where(x > 0, x, a x)``; ONNX has ``PRelu`` (the slope broadcast per
  channel, dim 1).

A layer is lowered only when the walk can see it as one step (its result made inside it and
nothing else it made read outside); otherwise its primitives are exported one by one.
"""
from __future__ import annotations

import numpy as np

from ..nn.activation import PReLU
from ..nn.layers import _BatchNorm
from ..tensor import Tensor


def lowering_for(module, args, output, training: bool):
    """The lowering function for this call of ``module`` (``training``: its flag during the
    recorded run), or None."""
    if not args or not isinstance(args[0], Tensor) or not isinstance(output, Tensor):
        return None
    if isinstance(module, _BatchNorm) and not training and \
            module.running_mean is not None and args[0].ndim >= 2:
        return _batch_norm
    if isinstance(module, PReLU) and args[0].ndim >= 1:
        return _prelu
    return None


def _batch_norm(m):
    bn, x = m.module, m.args[0]
    dt = x.data.dtype
    c = bn.num_features
    scale = m.name(bn.weight, dt) if bn.weight is not None else m.b.const(np.ones(c, dt))
    bias = m.name(bn.bias, dt) if bn.bias is not None else m.b.const(np.zeros(c, dt))
    return m.b.node("BatchNormalization",
                    [m.name(x), scale, bias, m.name(bn.running_mean, dt),
                     m.name(bn.running_var, dt)], epsilon=float(bn.eps))


def _prelu(m):
    x, w = m.args[0], m.module.weight
    dt = x.data.dtype
    slope = m.name(w, dt)
    n = w.data.size
    if n > 1:                                  # per channel (dim 1): (C, 1, ..., 1)
        slope = m.b.node("Reshape", [slope, m.b.ints([n] + [1] * (x.ndim - 2))])
    return m.b.node("PRelu", [m.name(x), slope])
