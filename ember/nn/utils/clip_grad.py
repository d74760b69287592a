"""Gradient clipping and weight penalties.

L2 / L1 penalties are one line either way::

    loss = loss + 1e-4 * nn.utils.l2_penalty(model)
    loss = loss + 1e-4 * sum((p ** 2).sum() for p in model.parameters())
"""
import math

import numpy as np

from ...tensor import Tensor


def _params(parameters):
    if hasattr(parameters, "parameters") and callable(parameters.parameters):
        return list(parameters.parameters())
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients in place so their global norm is at most ``max_norm``; returns the
    total norm before clipping (a 0-d Tensor), as PyTorch."""
    grads = [p.grad.data for p in _params(parameters) if p.grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0, np.float32))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(np.abs(g).max()) for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type))
                    for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           "gradients is non-finite, so it cannot be clipped")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= np.asarray(coef, g.dtype)
    return Tensor(np.asarray(total, grads[0].dtype))


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _params(parameters):
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def l2_penalty(module_or_params):
    """sum of squared parameters (differentiable): add ``lam * l2_penalty(model)`` to the loss.
    Note: this penalises biases too; pass ``[m.weight for ...]`` to restrict it."""
    return sum((p * p).sum() for p in _params(module_or_params))


def l1_penalty(module_or_params):
    """sum of absolute parameter values (differentiable)."""
    return sum(p.abs().sum() for p in _params(module_or_params))


def parameters_to_vector(parameters):
    return Tensor(np.concatenate([p.data.reshape(-1) for p in _params(parameters)]))


def vector_to_parameters(vec, parameters):
    v = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    i = 0
    for p in _params(parameters):
        n = p.data.size
        p.data[...] = v[i:i + n].reshape(p.shape)
        p._vb[0] += 1
        i += n
