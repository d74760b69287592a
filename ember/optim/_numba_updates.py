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


@njit(cache=True, nogil=True, error_model="numpy")
def adam(w, d, m, v, b1, one_m_b1, b2, one_m_b2, eps_c, step):  # pragma: no cover - compiled
    """Adam (PyTorch's, ``eps`` folded into the bias correction as in ``Adam.step``):
    m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;  w += step m / (sqrt(v) + eps_c)."""
    for i in range(w.size):
        di = d[i]
        mi = m[i] * b1
        t = di * one_m_b1
        mi = mi + t
        m[i] = mi
        t = di * di
        vi = v[i] * b2
        t = t * one_m_b2
        vi = vi + t
        v[i] = vi
        t = np.sqrt(vi)
        t = t + eps_c
        t = mi / t
        t = t * step
        w[i] = w[i] + t


@njit(cache=True, nogil=True, error_model="numpy")
def adam_amsgrad(w, d, m, v, vmax, b1, one_m_b1, b2, one_m_b2, eps_c,
                 step):  # pragma: no cover - compiled
    """:func:`adam` dividing by the running maximum of v (AMSGrad): vmax = max(vmax, v)."""
    for i in range(w.size):
        di = d[i]
        mi = m[i] * b1
        t = di * one_m_b1
        mi = mi + t
        m[i] = mi
        t = di * di
        vi = v[i] * b2
        t = t * one_m_b2
        vi = vi + t
        v[i] = vi
        xi = vmax[i]
        # np.maximum: NaN wins (whichever side holds it), else the larger
        if xi != xi:
            vi = xi
        elif not vi != vi and xi > vi:
            vi = xi
        vmax[i] = vi
        t = np.sqrt(vi)
        t = t + eps_c
        t = mi / t
        t = t * step
        w[i] = w[i] + t


@njit(cache=True, nogil=True, error_model="numpy")
def sgd_momentum(w, d, buf, mom, one_m_damp, neg_lr):  # pragma: no cover - compiled
    """SGD with momentum (not Nesterov), after the first step: buf = mom buf + (1 - damp) d;
    w += -lr buf."""
    for i in range(w.size):
        bi = buf[i] * mom
        t = d[i] * one_m_damp
        bi = bi + t
        buf[i] = bi
        t = bi * neg_lr
        w[i] = w[i] + t


@njit(cache=True, nogil=True, error_model="numpy")
def keras_adam(w, g, m, v, one_m_b1, one_m_b2, eps, alpha):  # pragma: no cover - compiled
    """Keras's Adam: m += (1 - b1)(g - m);  v += (1 - b2)(g^2 - v);
    w -= alpha m / (sqrt(v) + eps)  (alpha = lr sqrt(1 - b2^t) / (1 - b1^t))."""
    for i in range(w.size):
        gi = g[i]
        mi = m[i]
        t = gi - mi
        t = t * one_m_b1
        mi = mi + t
        m[i] = mi
        vi = v[i]
        t = gi * gi
        t = t - vi
        t = t * one_m_b2
        vi = vi + t
        v[i] = vi
        t = np.sqrt(vi)
        t = t + eps
        t = mi / t
        t = t * alpha
        w[i] = w[i] - t
