"""``ember.autograd.grad``: gradients of outputs with respect to chosen inputs, returned rather
than accumulated into ``.grad``."""
import numpy as np

from ..tensor import Tensor
from .engine import run_backward


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Return d(sum of outputs * grad_outputs)/d(input) for each input, as a tuple of Tensors.

    ``outputs`` and ``inputs`` are Tensors or sequences of them; ``grad_outputs`` defaults to ones
    for scalar outputs. No ``.grad`` attribute is changed. An input the outputs do not depend on
    raises unless ``allow_unused=True`` (then its gradient is None).
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs_list = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    gs = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("grad(): an output does not require grad (no graph to walk)")
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(f"grad(): grad_outputs must be given for a non-scalar output "
                                   f"(shape {out.data.shape})")
            g = np.ones(out.data.shape, out.data.dtype)
        else:
            g = g.data if isinstance(g, Tensor) else np.asarray(g, out.data.dtype)
        gs.append(g)
    for i, t in enumerate(inputs_list):
        if not t.requires_grad:
            raise RuntimeError(f"grad(): input {i} does not require grad")
    res = run_backward(outputs, gs, retain_graph=retain_graph, capture=inputs_list)
    out = []
    for i, (r, t) in enumerate(zip(res, inputs_list)):
        if r is None:
            if not allow_unused:
                raise RuntimeError(f"grad(): input {i} was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            out.append(None)
        else:
            out.append(Tensor(np.array(r, t.data.dtype)))  # a copy, in the input's dtype
    return tuple(out)
