"""Gradients through time: for every recurrent layer (nn.RNN / LSTM / GRU), how the gradient
reaching its input at the first time step compares with the one at the last step. Backpropagation
through T steps multiplies by T recurrent Jacobians, so a ratio far below 1 means the first
steps barely learn (vanishing), far above 1 that the gradient explodes with sequence length.

    r = mean ||dL/dx_t|| over the first quarter of steps / the same over the last quarter
"""
import numpy as np

from ..tensor import Tensor
from .findings import Finding, fmt
from .stats import layer_label

VANISH, EXPLODE = 1e-3, 1e3


def _recurrent(model):
    from ..nn.rnn import RNNBase
    return [(n, m) for n, m in model.named_modules() if isinstance(m, RNNBase)]


def through_time_findings(model, x, y, loss_fn=None, when="at initialization"):
    """One forward + backward; a finding per recurrent layer whose input-gradient ratio between
    its first and last time steps is below VANISH or above EXPLODE. Parameter gradients are
    left as they were."""
    from .checks import _call_loss
    layers = _recurrent(model)
    if not layers or y is None:
        return []
    leaves, handles = {}, []

    def pre_hook(name):
        def hook(module, args):
            a = args[0] if args else None
            if not isinstance(a, Tensor) or a.ndim != 3:
                return None        # packed or unbatched input: not measured
            leaf = Tensor(np.array(a.data, copy=True), requires_grad=True)
            leaves[name] = (leaf, 1 if module.batch_first else 0)
            return (leaf,) + tuple(args[1:])
        return hook

    grads = [(p, p.grad) for p in model.parameters()]
    for n, m in layers:
        handles.append(m.register_forward_pre_hook(pre_hook(n)))
    try:
        xs = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        yt = y if isinstance(y, Tensor) else Tensor(np.asarray(y))
        loss = _call_loss(loss_fn, model(xs), yt)
        if loss.requires_grad:
            loss.backward()
    finally:
        for h in handles:
            h.remove()
        for p, g in grads:
            p.grad = g
    out = []
    modules = dict(layers)
    for name, (leaf, axis) in leaves.items():
        if leaf.grad is None:
            continue
        g = np.moveaxis(leaf.grad.data, axis, 0)
        T = g.shape[0]
        if T < 4:
            continue
        norms = np.sqrt((g.astype(np.float64) ** 2).reshape(T, -1).sum(1))
        q = max(T // 4, 1)
        first, last = norms[:q].mean(), norms[-q:].mean()
        if not np.isfinite(first) or last == 0:
            continue
        r = first / last
        label = layer_label(name, modules[name])
        figs = {"first_steps_grad": float(first), "last_steps_grad": float(last), "ratio": r,
                "steps": T}
        if r < VANISH:
            out.append(Finding(
                "warning", "vanishing_gradients_through_time",
                f"{label}: the gradient reaching the first {q} of {T} time steps is "
                f"{fmt(r)} times the one at the last steps {when}: it vanishes going back "
                "through time, so the layer cannot learn long-range dependencies", layer=label,
                suggestion="use an LSTM or GRU instead of a plain RNN, shorter sequences "
                           "(truncated backpropagation), or larger/orthogonal recurrent weights",
                figures=figs))
        elif r > EXPLODE:
            out.append(Finding(
                "warning", "exploding_gradients_through_time",
                f"{label}: the gradient reaching the first {q} of {T} time steps is "
                f"{fmt(r)}x larger than at the last steps {when}: it grows with every step "
                "back through time", layer=label,
                suggestion="clip gradients (nn.utils.clip_grad_norm_), smaller recurrent "
                           "weights, an LSTM/GRU, or tanh instead of relu", figures=figs))
    return out
