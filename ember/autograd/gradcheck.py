"""Finite-difference gradient check (float64, central differences).

For a random projection v of the output, the analytic gradient of <v, f(x)> from backward is
compared element by element with (<v, f(x + eps e_i)> - <v, f(x - eps e_i)>) / (2 eps).
"""
import numpy as np

from ..tensor import Tensor
from .grad_mode import no_grad


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree; the message names the worst element."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Return True if ``fn``'s backward matches finite differences for every input that requires
    grad; otherwise raise :class:`GradcheckError` with the worst element, its analytic and
    numeric values. Inputs should be float64 (a float32 check is refused: too imprecise)."""
    from .functional import grad  # with the engine: loaded on the first check
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff_inputs = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not diff_inputs:
        raise ValueError("gradcheck: no input requires grad")
    for t in diff_inputs:
        if t.data.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs must be float64 for finite differences, got "
                             f"{t.data.dtype}; use tensor.double()")
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    outs = [o for o in outs if isinstance(o, Tensor) and o.requires_grad]
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(o.data.shape) for o in outs]
    analytic = grad(outs, diff_inputs, grad_outputs=vs, allow_unused=True)

    def projected():
        with no_grad():
            res = fn(*inputs)
        res = res if isinstance(res, (tuple, list)) else (res,)
        res = [r for r, o in zip(res, out if isinstance(out, (tuple, list)) else (out,))
               if isinstance(o, Tensor) and o.requires_grad]
        return sum(float(np.sum(v * r.data)) for v, r in zip(vs, res))

    for k, (t, a) in enumerate(zip(diff_inputs, analytic)):
        a = np.zeros(t.data.shape) if a is None else a.data
        num = np.zeros(t.data.shape)
        data = t.data  # perturbed in place by index (reshape(-1) would copy a strided input)
        for idx in np.ndindex(*data.shape):
            old = data[idx]
            data[idx] = old + eps
            fp = projected()
            data[idx] = old - eps
            fm = projected()
            data[idx] = old
            num[idx] = (fp - fm) / (2 * eps)
        err = np.abs(a - num) - (atol + rtol * np.abs(num))
        if err.size and err.max() > 0:
            idx = np.unravel_index(int(np.argmax(err)), err.shape)
            raise GradcheckError(
                f"gradcheck failed for input {k} (shape {t.data.shape}) at index {idx}: "
                f"analytic {a[idx]:.8g}, numeric {num[idx]:.8g}, "
                f"|difference| {abs(a[idx] - num[idx]):.3g} > atol {atol} + rtol {rtol} * |numeric|")
    return True
