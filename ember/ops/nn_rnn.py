"""Fused recurrent primitives: one direction of one layer of an Elman RNN, an LSTM or a GRU over
a whole (time-major) sequence, forward and backward through time side by side.

Inputs (positional, per call): ``x`` (T, B, I), initial state(s) (B, H), the weights in
PyTorch's layout (``w_ih`` (G*H, I), ``w_hh`` (G*H, H), biases (G*H,) or None) and an optional
``mask`` (T, B) of 1 (valid) / 0 (padding). Static attribute: ``reverse`` (run t = T-1 .. 0).

Why fused: the input projection of every time step is one GEMM (T*B, I) x (I, G*H) before the
loop; each step is one (B, H) x (H, G*H) GEMM plus the gate nonlinearities, done in one tanh pass
(sigmoid(z) = (1 + tanh(z/2)) / 2, the 1/2 folded into the weights' rows); backward is one Python
loop of one GEMM per step, and the weight gradients are again one GEMM each over all steps.

Padding: where ``mask[t, b]`` is 0 the state is carried through unchanged (so a reverse direction
starts at each sequence's own last element, as PyTorch's packed sequences) and the output row is 0;
its gradient rows are exactly zero, so padding never reaches states, weights or inputs.

The output is one array: the per-step outputs (T, B, H) followed by the final state(s) as extra
time rows, (T+1, B, H) for RNN/GRU (h_n) and (T+2, B, H) for the LSTM (h_n, c_n); callers slice.
"""
import functools

from .function import Function
from ..backend import get_array_module


def _find_openblas_local():
    """NumPy's bundled OpenBLAS ``openblas_set_num_threads_local`` (a per-thread thread count
    that returns the previous one), or None. Set ``EMBER_RNN_BLAS_PIN=0`` to never use it."""
    import ctypes
    import glob
    import os

    import numpy as np
    if os.environ.get("EMBER_RNN_BLAS_PIN", "1") == "0":
        return None
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so*"))):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
        return fn
    return None


try:
    _LOCAL_THREADS = _find_openblas_local()
except Exception:  # never let an acceleration break the import
    _LOCAL_THREADS = None
#: per-step GEMMs with fewer multiply-adds than this run on one BLAS thread: waking a second
#: thread for a (B, H) x (H, G*H) product costs more than it saves, and on a busy machine a
#: multi-threaded small GEMM can stall for whole scheduler ticks (30x slower measured).
SMALL_STEP = 1 << 22


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _one_blas_thread(fn):
    """Run a forward/backward rule on one OpenBLAS thread (for this thread only, restored on
    exit) when the per-step products are small (B * 4H * H < SMALL_STEP): decided in forward
    from h0 (B, H), so from shapes only (runs stay repeatable), and kept on ctx for backward."""
    @functools.wraps(fn)
    def run(ctx, *args, **kw):
        if fn.__name__ == "forward":
            h0 = args[1]
            ctx.small = (type(h0).__module__ == "numpy" and
                         4 * h0.shape[0] * h0.shape[1] ** 2 < SMALL_STEP)
        local = _LOCAL_THREADS
        if local is None or not ctx.small:
            return fn(ctx, *args, **kw)
        prev = local(1)
        try:
            return fn(ctx, *args, **kw)
        finally:
            local(prev)
    return run


def _bool_mask(xp, mask):
    """(T, B) of 0/1 -> (T, B, 1) booleans, or None."""
    return None if mask is None else (xp.asarray(mask) != 0)[:, :, None]


def _input_projection(xp, x, w, b):
    """All time steps at once: x (T, B, I) @ w^T (I, G) + b -> (T, B, G)."""
    T, B, _ = x.shape
    a = xp.matmul(x.reshape(T * B, -1), w.T).reshape(T, B, -1)
    if b is not None:
        a += b
    return a


def _bias_sum(b_ih, b_hh):
    """b_ih + b_hh when both are given; either one alone (Keras has a single bias)."""
    if b_ih is None or b_hh is None:
        return b_hh if b_ih is None else b_ih
    return b_ih + b_hh


def _finish_weights(xp, dg, x, hprev, dgh=None):
    """Weight, bias and input gradients from the per-step pre-activation gradients: one GEMM
    each over all T*B rows. ``dgh`` is the gradient reaching the recurrent product when it
    differs from ``dg`` (the GRU's candidate gate)."""
    T, B, G = dg.shape
    d2 = dg.reshape(T * B, G)
    dh2 = d2 if dgh is None else dgh.reshape(T * B, G)
    dw_ih = d2.T @ x.reshape(T * B, -1)
    dw_hh = dh2.T @ hprev.reshape(T * B, -1)
    return d2, dw_ih, dw_hh, d2.sum(axis=0), dh2.sum(axis=0)


class RNNLayer(Function):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.
    forward(x, h0, w_ih, w_hh, b_ih, b_hh, mask) -> (T+1, B, H)."""

    saves_inputs = False

    @staticmethod
    @_one_blas_thread
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False,
                relu=False):
        xp = get_array_module(x, w_ih)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        a = _input_projection(xp, x, w_ih, _bias_sum(b_ih, b_hh))       # pre-activations, then outputs, in place
        m = _bool_mask(xp, mask)
        hprev = xp.empty((T, B, H), a.dtype)
        out = xp.empty((T + 1, B, H), a.dtype)
        h = xp.asarray(h0, a.dtype)
        whh_t = w_hh.T
        for t in _steps(T, reverse):
            hprev[t] = h
            at = a[t]
            at += h @ whh_t
            if relu:
                xp.maximum(at, 0, out=at)
            else:
                xp.tanh(at, out=at)
            if m is None:
                h = out[t] = at
            else:
                h = xp.where(m[t], at, h)
                xp.multiply(at, m[t], out=out[t])
        out[T] = h
        ctx.saved = (x, w_ih, w_hh, a, hprev, m, b_ih is not None, b_hh is not None)
        ctx.reverse, ctx.relu = reverse, relu
        return out

    @staticmethod
    @_one_blas_thread
    def backward(ctx, g):
        x, w_ih, w_hh, a, hprev, m, has_bi, has_bh = ctx.saved
        xp = get_array_module(g, w_ih)
        T = x.shape[0]
        dpre = xp.empty_like(a)
        dh = g[T].copy()
        for t in _steps(T, not ctx.reverse):
            d = dh + g[t]
            if m is not None:
                d = xp.where(m[t], d, 0)
            at = a[t]
            if ctx.relu:
                d *= at > 0
            else:
                d *= 1 - at * at
            dpre[t] = d
            back = d @ w_hh
            dh = back if m is None else xp.where(m[t], back, dh)
        d2, dw_ih, dw_hh, db, _ = _finish_weights(xp, dpre, x, hprev)
        dx = (d2 @ w_ih).reshape(x.shape)
        return (dx, dh, dw_ih, dw_hh, db if has_bi else None, db if has_bh else None, None)


def _lstm_perm(xp, H):
    """PyTorch's gate rows (i, f, g, o) -> the internal order (i, f, o, g): the three sigmoid
    gates contiguous, so their (1 + tanh)/2 fix-up is one slice."""
    return xp.concatenate([xp.arange(0, 2 * H), xp.arange(3 * H, 4 * H), xp.arange(2 * H, 3 * H)])


class LSTMLayer(Function):
    """i, f, g, o = sig(z_i), sig(z_f), tanh(z_g), sig(z_o) with z = x_t W_ih^T + b_ih +
    h_{t-1} W_hh^T + b_hh (PyTorch's row order i, f, g, o); c_t = f c_{t-1} + i g,
    h_t = o tanh(c_t). forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask) -> (T+2, B, H)."""

    saves_inputs = False

    @staticmethod
    @_one_blas_thread
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False):
        xp = get_array_module(x, w_ih)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        p = _lstm_perm(xp, H)
        # rows of the sigmoid gates halved: tanh of the result gives all four gates in one pass
        scale = xp.ones((4 * H, 1), w_ih.dtype)
        scale[:3 * H] = 0.5
        wih, whh = w_ih[p], w_hh[p]
        bias = _bias_sum(b_ih, b_hh)
        bias = None if bias is None else bias[p] * scale[:, 0]
        a = _input_projection(xp, x, wih * scale, bias)  # (T, B, 4H): gates after the loop
        whh_t = (whh * scale).T
        m = _bool_mask(xp, mask)
        dt = a.dtype
        hprev, cprev, tc = (xp.empty((T, B, H), dt) for _ in range(3))
        out = xp.empty((T + 2, B, H), dt)
        h, c = xp.asarray(h0, dt), xp.asarray(c0, dt)
        for t in _steps(T, reverse):
            hprev[t], cprev[t] = h, c
            at = a[t]
            at += h @ whh_t
            xp.tanh(at, out=at)
            sg = at[:, :3 * H]
            sg *= 0.5
            sg += 0.5
            i, f, o, gg = at[:, :H], at[:, H:2 * H], at[:, 2 * H:3 * H], at[:, 3 * H:]
            cn = f * c
            cn += i * gg
            tct = tc[t]
            xp.tanh(cn, out=tct)
            hn = o * tct
            if m is None:
                h, c = hn, cn
                out[t] = hn
            else:
                mt = m[t]
                h, c = xp.where(mt, hn, h), xp.where(mt, cn, c)
                xp.multiply(hn, mt, out=out[t])
        out[T], out[T + 1] = h, c
        ctx.saved = (x, wih, whh, a, hprev, cprev, tc, m, p, b_ih is not None, b_hh is not None)
        ctx.reverse = reverse
        return out

    @staticmethod
    @_one_blas_thread
    def backward(ctx, g):
        x, wih, whh, a, hprev, cprev, tc, m, p, has_bi, has_bh = ctx.saved
        xp = get_array_module(g, wih)
        T = x.shape[0]
        H = whh.shape[1]
        dz = xp.empty_like(a)
        dh, dc = g[T].copy(), g[T + 1].copy()
        for t in _steps(T, not ctx.reverse):
            at, tct = a[t], tc[t]
            i, f, o, gg = at[:, :H], at[:, H:2 * H], at[:, 2 * H:3 * H], at[:, 3 * H:]
            dhn = dh + g[t]
            dcn = dc
            if m is not None:
                mt = m[t]
                dhn = xp.where(mt, dhn, 0)
                dcn = xp.where(mt, dcn, 0)
            dcn = dcn + dhn * o * (1 - tct * tct)
            dzt = dz[t]
            dzt[:, :H] = dcn * gg                   # d i
            dzt[:, H:2 * H] = dcn * cprev[t]        # d f
            dzt[:, 2 * H:3 * H] = dhn * tct         # d o
            dzt[:, 3 * H:] = dcn * i                # d g
            sg = at[:, :3 * H]
            dzt[:, :3 * H] *= sg * (1 - sg)
            dzt[:, 3 * H:] *= 1 - gg * gg
            back_h = dzt @ whh
            back_c = dcn * f
            if m is None:
                dh, dc = back_h, back_c
            else:
                dh, dc = xp.where(mt, back_h, dh), xp.where(mt, back_c, dc)
        d2, dwi, dwh, db, _ = _finish_weights(xp, dz, x, hprev)
        dx = (d2 @ wih).reshape(x.shape)
        dw_ih, dw_hh = xp.empty_like(dwi), xp.empty_like(dwh)
        dw_ih[p], dw_hh[p] = dwi, dwh           # internal gate order -> PyTorch's
        dbias = xp.empty_like(db)
        dbias[p] = db
        return (dx, dh, dc, dw_ih, dw_hh, dbias if has_bi else None, dbias if has_bh else None,
                None)


class GRULayer(Function):
    """PyTorch's GRU (rows r, z, n): r = sig(W_ir x + b_ir + W_hr h + b_hr),
    z = sig(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h_t = (1 - z) n + z h_{t-1}. forward(x, h0, w_ih, w_hh, b_ih, b_hh, mask) -> (T+1, B, H).
    (Keras's ``reset_after=True`` GRU is the same formula with gates ordered z, r, h.)"""

    saves_inputs = False

    @staticmethod
    @_one_blas_thread
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False):
        xp = get_array_module(x, w_ih)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        scale = xp.ones((3 * H, 1), w_ih.dtype)
        scale[:2 * H] = 0.5                     # r, z: sigmoid through tanh
        a = _input_projection(xp, x, w_ih * scale, None if b_ih is None else b_ih * scale[:, 0])
        whh_t = (w_hh * scale).T
        bhh = None if b_hh is None else b_hh * scale[:, 0]
        m = _bool_mask(xp, mask)
        dt = a.dtype
        hprev, hhn = xp.empty((T, B, H), dt), xp.empty((T, B, H), dt)
        out = xp.empty((T + 1, B, H), dt)
        h = xp.asarray(h0, dt)
        for t in _steps(T, reverse):
            hprev[t] = h
            hh = h @ whh_t
            if bhh is not None:
                hh += bhh
            at = a[t]
            rz = at[:, :2 * H]
            rz += hh[:, :2 * H]
            xp.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            r, z, n = at[:, :H], at[:, H:2 * H], at[:, 2 * H:]
            hhn[t] = hh[:, 2 * H:]
            n += r * hh[:, 2 * H:]
            xp.tanh(n, out=n)
            hn = n + z * (h - n)
            if m is None:
                h = out[t] = hn
            else:
                h = xp.where(m[t], hn, h)
                xp.multiply(hn, m[t], out=out[t])
        out[T] = h
        ctx.saved = (x, w_ih, w_hh, a, hprev, hhn, m, b_ih is not None, b_hh is not None)
        ctx.reverse = reverse
        return out

    @staticmethod
    @_one_blas_thread
    def backward(ctx, g):
        x, w_ih, w_hh, a, hprev, hhn, m, has_bi, has_bh = ctx.saved
        xp = get_array_module(g, w_ih)
        T = x.shape[0]
        H = w_hh.shape[1]
        dgx, dgh = xp.empty_like(a), xp.empty_like(a)
        dh = g[T].copy()
        for t in _steps(T, not ctx.reverse):
            at = a[t]
            r, z, n = at[:, :H], at[:, H:2 * H], at[:, 2 * H:]
            d = dh + g[t]
            if m is not None:
                d = xp.where(m[t], d, 0)
            dn = d * (1 - z) * (1 - n * n)          # through tanh: d(pre-activation of n)
            dr = dn * hhn[t] * r * (1 - r)
            dzz = d * (hprev[t] - n) * z * (1 - z)
            gx, gh = dgx[t], dgh[t]
            gx[:, :H] = dr
            gx[:, H:2 * H] = dzz
            gx[:, 2 * H:] = dn
            gh[:, :2 * H] = gx[:, :2 * H]
            gh[:, 2 * H:] = dn * r
            back = gh @ w_hh
            back += d * z
            dh = back if m is None else xp.where(m[t], back, dh)
        d2, dw_ih, dw_hh, dbi, dbh = _finish_weights(xp, dgx, x, hprev, dgh)
        dx = (d2 @ w_ih).reshape(x.shape)
        return (dx, dh, dw_ih, dw_hh, dbi if has_bi else None, dbh if has_bh else None, None)
