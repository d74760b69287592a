"""One-pass kernels for the generated replay of ``@ember.jit`` (the optional extra ``fast``).

Each kernel does, element by element, the float operations of the NumPy ``out=`` calls it
replaces, in the same order and precision (no fastmath: no fused multiply-adds, no
reassociation), so the results are the NumPy path's bits, in one sweep over the array instead
of two or three:

* ``bias_relu(y, b)``: ``y = maximum(y + b, 0)`` in place (Linear's bias add, then ReLU);
* ``relu_grad(g, y)``: ``g = g * (y > 0)`` in place (ReLU's backward);
* ``relu_grad_colsum(g, y, gb)``: the same, and ``gb = g.sum(0)`` of the result, summed row
  after row from +0.0 as NumPy's axis-0 reduction of a C-contiguous array does.

NumPy's ``maximum(v, 0)`` returns ``v`` for a NaN (its sign kept) and +0.0 for -0.0; the kernel
writes the same. 2-D C-contiguous arrays (the replay's own buffers); ``b``, ``y`` may be any
layout. Compiled once and cached on disk (``cache=True``). Imported only by
:func:`ember.graph.fused.kernels`, never by ``import ember``.
"""
import numpy as np
from numba import njit

from ..optim._numba_updates import adam as adam1, rmsprop as rmsprop1  # noqa: F401 (1-D)

_jit = njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)


@_jit
def bias_relu(y, b):  # pragma: no cover - compiled
    m, n = y.shape
    zero = y.dtype.type(0)
    for i in range(m):
        for j in range(n):
            v = y[i, j] + b[j]
            y[i, j] = v if (v > zero or v != v) else zero


@_jit
def relu(y):  # pragma: no cover - compiled
    m, n = y.shape
    zero = y.dtype.type(0)
    for i in range(m):
        for j in range(n):
            v = y[i, j]
            y[i, j] = v if (v > zero or v != v) else zero


@_jit
def relu_grad(g, y):  # pragma: no cover - compiled
    m, n = g.shape
    zero, one = g.dtype.type(0), g.dtype.type(1)
    for i in range(m):
        for j in range(n):
            g[i, j] = g[i, j] * (one if y[i, j] > zero else zero)


@_jit
def relu_grad_colsum(g, y, gb):  # pragma: no cover - compiled
    m, n = g.shape
    zero, one = g.dtype.type(0), g.dtype.type(1)
    for j in range(n):
        gb[j] = zero
    for i in range(m):
        for j in range(n):
            v = g[i, j] * (one if y[i, j] > zero else zero)
            g[i, j] = v
            gb[j] = gb[j] + v


# ---- softmax cross-entropy (mean, integer targets): everything but exp and log ------------
# NumPy's float32 exp/log are its own SIMD implementations, whose last bits differ from libm's;
# so exp and log stay NumPy calls between these kernels, and the replay keeps the rule's bits.

@_jit
def _block(a, lo, n):  # pragma: no cover - compiled
    """NumPy's pairwise sum of a[lo:lo + n] for n <= 128: 8 accumulators (below 8 terms, one),
    their tree, then the remainder one by one."""
    if n < 8:
        r = a.dtype.type(0)
        for i in range(n):
            r = r + a[lo + i]
        return r
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    end = n - n % 8
    while i < end:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_jit
def _pairwise(a, lo, n):  # pragma: no cover - compiled
    """NumPy's pairwise sum of a[lo:lo + n]: blocks of up to 128 (``_block``), above that the
    sum of the two halves (the first a multiple of 8 long). Written with an explicit stack, not
    recursion: numba's on-disk cache does not load recursive functions safely."""
    if n <= 128:
        return _block(a, lo, n)
    los = np.empty(128, np.int64)
    ns = np.empty(128, np.int64)
    done = np.zeros(128, np.bool_)
    vals = np.empty(128, a.dtype)
    nv = 0
    top = 0
    los[0], ns[0] = lo, n
    while top >= 0:
        k = ns[top]
        if k <= 128:
            vals[nv] = _block(a, los[top], k)
            nv += 1
            top -= 1
        elif not done[top]:
            done[top] = True
            k2 = k // 2
            k2 -= k2 % 8
            los[top + 1], ns[top + 1], done[top + 1] = los[top] + k2, k - k2, False  # right
            los[top + 2], ns[top + 2], done[top + 2] = los[top], k2, False  # left: runs first
            top += 2
        else:  # both halves summed: left + right
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            top -= 1
    return vals[0]


@_jit
def _shift(z, t, s, ignore):  # pragma: no cover - compiled
    m, c = z.shape
    for i in range(m):
        ti = t[i]
        if ti < 0 or ti >= c or ti == ignore:
            return 1
    status = 0
    for i in range(m):
        mx = z[i, 0]
        for j in range(c):
            v = z[i, j]
            if v != v:
                return 1
            if v > mx:
                mx = v
        if not np.isfinite(mx):
            return 1
        if mx == 0:
            status = 2
        for j in range(c):
            s[i, j] = z[i, j] - mx
    return status


@_jit
def ce_shift(z, t, s, ignore):  # pragma: no cover - compiled
    """s = z - rowmax(z). Returns 0, or 1 when the general code must run instead (a target
    outside [0, C) or equal to ``ignore``, a NaN or a non-finite row max), or 2 when some row
    max is 0 (NumPy's SIMD max picks +0.0 or -0.0 by position: let NumPy take it)."""
    return _shift(z, t, s, ignore)


@_jit
def ce_bias_shift(z, b, t, s, ignore):  # pragma: no cover - compiled
    """z += b (the Linear's bias add, first, whatever follows), then :func:`ce_shift`."""
    m, c = z.shape
    for i in range(m):
        for j in range(c):
            z[i, j] = z[i, j] + b[j]
    return _shift(z, t, s, ignore)


@_jit
def row_sums(e, out):  # pragma: no cover - compiled
    """out[i, 0] = NumPy's sum of row i (``add.reduce(e, 1, keepdims=True)``)."""
    m, c = e.shape
    flat = e.reshape(m * c)
    for i in range(m):
        out[i, 0] = e.dtype.type(0) + _pairwise(flat, i * c, c)


@_jit
def ce_pick(s, lse, t, picked, den):  # pragma: no cover - compiled
    """s -= lse (log-probabilities); the loss -sum_i s[i, t_i] / den, summed as NumPy sums."""
    m, c = s.shape
    for i in range(m):
        li = lse[i, 0]
        for j in range(c):
            s[i, j] = s[i, j] - li
        picked[i] = s[i, t[i]]
    total = picked.dtype.type(0) + _pairwise(picked, 0, m)
    return (-total) / den


@_jit
def ce_grad(sm, t, scale, out):  # pragma: no cover - compiled
    """out = (float64(sm) - onehot(t)) * scale, rounded once to out's dtype."""
    m, c = sm.shape
    for i in range(m):
        ti = t[i]
        for j in range(c):
            v = np.float64(sm[i, j])
            if j == ti:
                v = v - 1.0
            out[i, j] = v * scale


@_jit
def ce_grad_colsum(sm, t, scale, out, gb):  # pragma: no cover - compiled
    """:func:`ce_grad`, and gb = out.sum(0) (row after row from +0.0, as NumPy)."""
    m, c = sm.shape
    for j in range(c):
        gb[j] = gb.dtype.type(0)
    for i in range(m):
        ti = t[i]
        for j in range(c):
            v = np.float64(sm[i, j])
            if j == ti:
                v = v - 1.0
            r = out.dtype.type(v * scale)
            out[i, j] = r
            gb[j] = gb[j] + r


# ---- RMSprop (no momentum, not centered, no weight decay): PyTorch's update, in place -----
# The operations and their order are those of the optimizer's NumPy passes (and of
# ember.optim._numba_updates): s = s alpha + (g g)(1 - alpha); w += (g / (sqrt(s) + eps)) (-lr).
# Any layout, 1-D or 2-D: no flattening, so no copy and no contiguity test per call. The 1-D
# forms are the eager optimizers' own kernels (ember.optim._numba_updates).

@_jit
def rmsprop2(w, g, s, alpha, one_m_alpha, eps, neg_lr):  # pragma: no cover - compiled
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            gi = g[i, j]
            t = gi * gi
            si = s[i, j] * alpha
            t = t * one_m_alpha
            si = si + t
            s[i, j] = si
            t = np.sqrt(si)
            t = t + eps
            t = gi / t
            t = t * neg_lr
            w[i, j] = w[i, j] + t


# ---- Adam (no weight decay, amsgrad or maximize) and plain SGD: the eager passes' floats ----
# Adam: m = m b1 + g (1 - b1); v = v b2 + (g g)(1 - b2); w += (m / (sqrt(v) + eps_c)) step,
# with eps_c = eps sqrt(1 - b2^t) and step = -lr sqrt(1 - b2^t) / (1 - b1^t) (ember.optim.adam).
# SGD: w += g (-lr).

@_jit
def adam2(w, g, m, v, b1, omb1, b2, omb2, eps_c, step):  # pragma: no cover - compiled
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            gi = g[i, j]
            mi = m[i, j] * b1
            t = gi * omb1
            mi = mi + t
            m[i, j] = mi
            t = gi * gi
            vi = v[i, j] * b2
            t = t * omb2
            vi = vi + t
            v[i, j] = vi
            t = np.sqrt(vi)
            t = t + eps_c
            t = mi / t
            t = t * step
            w[i, j] = w[i, j] + t


@_jit
def sgd1(w, g, neg_lr):  # pragma: no cover - compiled
    for i in range(w.shape[0]):
        w[i] = w[i] + g[i] * neg_lr


@_jit
def sgd2(w, g, neg_lr):  # pragma: no cover - compiled
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            w[i, j] = w[i, j] + g[i, j] * neg_lr
