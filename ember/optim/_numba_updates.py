"""One-pass optimizer updates compiled with numba (the optional extra ``fast``).

Each kernel does, element by element, exactly the float operations of the NumPy ``out=`` passes
it replaces, in the same order and precision (scalars arrive already cast to the array's dtype,
as NumPy casts a Python float against a float32 array; no fastmath, so no fused multiply-adds
or reassociation): the results are bit-for-bit those of the NumPy path, read and written in one
sweep instead of seven. Arrays are 1-d contiguous views of the parameter and its buffers.
``error_model="numpy"``: IEEE results for x / 0 as NumPy gives (no Python check in the loop,
which would also stop LLVM from vectorising it: 7x slower). Compiled once and cached on disk
(``cache=True``), so later processes only load them.
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def rmsprop(w, g, s, alpha, one_m_alpha, eps, neg_lr):  # pragma: no cover - compiled
    """PyTorch's RMSprop: s = alpha s + (1 - alpha) g^2;  w += -lr g / (sqrt(s) + eps)."""
    for i in range(w.size):
        gi = g[i]
        t = gi * gi
        si = s[i] * alpha
        t = t * one_m_alpha
        si = si + t
        s[i] = si
        t = np.sqrt(si)
        t = t + eps
        t = gi / t
        t = t * neg_lr
        w[i] = w[i] + t


@njit(cache=True, nogil=True, error_model="numpy")
def keras_rmsprop(w, g, s, rho, one_m_rho, eps, lr):  # pragma: no cover - compiled
    """Keras's RMSprop: s = rho s + (1 - rho) g^2;  w -= lr g / sqrt(s + eps)."""
    for i in range(w.size):
        gi = g[i]
        t = gi * gi
        t = t * one_m_rho
        si = s[i] * rho
        si = si + t
        s[i] = si
        t = si + eps
        t = np.sqrt(t)
        t = gi / t
        t = t * lr
        w[i] = w[i] - t
