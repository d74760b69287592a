"""One-pass numba kernels for activation backward rules (the optional extra ``fast``).

``relu_backward``: ``gx = g * (y > 0)`` reading ``g`` and the saved output ``y`` once, where the
NumPy rule makes a boolean mask first (two passes, a temporary). The product is taken in the
gradient's dtype, with the mask as 1 or 0 (as NumPy casts the boolean), so the result is bit
for bit NumPy's, NaN and signed zeros included (``-3 * 0 = -0``). Arrays are 1-d contiguous;
each call handles [lo, hi), so a large pass can be split over the kernel threads
(:func:`ember.kernels.threads.split`). Imported only when a large ReLU runs with the numba
kernels selected; ``import ember`` never imports numba.
"""
from numba import njit


@njit(cache=True, nogil=True)
def relu_backward(lo, hi, g, y, out, one, zero):  # pragma: no cover - compiled
    # slices then a 0-based loop, compared with a zero of the arrays' dtype: LLVM vectorises
    # this form (a loop over range(lo, hi) comparing with an int stays scalar, 3x slower)
    gs, ys, os = g[lo:hi], y[lo:hi], out[lo:hi]
    for i in range(gs.size):
        os[i] = gs[i] * (one if ys[i] > zero else zero)


@njit(cache=True, nogil=True)
def relu_forward(lo, hi, a, out, zero):  # pragma: no cover - compiled
    # np.maximum(a, 0): NaN stays NaN (NaN <= 0 is false), -0 gives +0 (as NumPy's tie rule)
    as_, os = a[lo:hi], out[lo:hi]
    for i in range(as_.size):
        x = as_[i]
        os[i] = zero if x <= zero else x
