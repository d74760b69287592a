"""L-BFGS with an optional strong-Wolfe line search, for full-batch (deterministic) problems.

Written from Nocedal & Wright, *Numerical Optimization* (2nd ed.): the two-loop recursion
(Algorithm 7.4) for the search direction, and the bracketing/zoom line search
(Algorithms 3.5 and 3.6) with cubic interpolation (eq. 3.59) and minFunc's safeguards. The
outer loop and the stopping rules follow ``torch.optim.LBFGS`` so trajectories compare.
"""
import math

import numpy as np

from .. import backend as _backend

from .optimizer import Optimizer, check_nonneg

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimizer of the cubic matching f and f' at x1 and x2, clipped to ``bounds``
    (N&W eq. 3.59); the bounds' midpoint when the cubic has no minimizer."""
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        if not math.isfinite(pos):
            return (lo + hi) / 2.0
        return min(max(pos, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(obj, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Step ``t`` along ``d`` satisfying the strong Wolfe conditions
    ``f(x+td) <= f + c1 t g.d`` and ``|g(x+td).d| <= c2 |g.d|``.

    Returns (f_new, g_new, t, evaluations)."""
    d_norm = float(np.abs(d).max())
    f_new, g_new = obj(x, t, d)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    it = 0
    # bracketing phase (N&W Algorithm 3.5): grow t until an interval contains a good point
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, br_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        # extrapolate by cubic interpolation, within [t + 0.01 (t - t_prev), 10 t]
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        t_next = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (lo, hi))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = obj(x, t, d)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
    if it == max_ls:
        br, br_f, br_g, br_gtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]

    # zoom phase (N&W Algorithm 3.6): shrink the bracket by cubic interpolation
    insuf_progress = False
    low, high = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and it < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        # keep t away from the bracket's ends, or progress can stall (minFunc's safeguard)
        bmax, bmin = max(br), min(br)
        eps = 0.1 * (bmax - bmin)
        if min(bmax - t, t - bmin) < eps:
            if insuf_progress or t >= bmax or t <= bmin:
                t = bmax - eps if abs(t - bmax) < abs(t - bmin) else bmin + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj(x, t, d)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= br_f[low]:
            br[high], br_f[high], br_g[high], br_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high] - br[low]) >= 0:
                br[high], br_f[high], br_g[high], br_gtd[high] = \
                    br[low], br_f[low], br_g[low], br_gtd[low]
            br[low], br_f[low], br_g[low], br_gtd[low] = t, f_new, g_new, gtd_new
    return br_f[low], br_g[low], br[low], evals


class LBFGS(Optimizer):
    r"""``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None)``.

    Limited-memory BFGS for full-batch problems: ``step(closure)`` runs up to ``max_iter``
    iterations, each needing fresh gradients, so ``closure`` must zero the grads, recompute the
    loss, call ``backward()`` and return the loss. ``line_search_fn='strong_wolfe'`` picks each
    step length by a strong-Wolfe line search; without it the step is ``lr`` (the first one
    ``min(1, 1/|g|_1) lr``). One parameter group only; all parameters are treated as one vector.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _check_group(self, g):
        check_nonneg("learning rate", g["lr"])
        check_nonneg("tolerance_grad", g["tolerance_grad"])
        check_nonneg("tolerance_change", g["tolerance_change"])
        for k in ("max_iter", "max_eval", "history_size"):
            if not isinstance(g[k], (int, np.integer)) or g[k] < 1:
                raise ValueError(f"Invalid {k}: {g[k]!r} (expected an integer >= 1)")
        if g["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"only 'strong_wolfe' is supported as line_search_fn, got "
                             f"{g['line_search_fn']!r}")

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._params = self.param_groups[0]["params"]

    def _load_param_state(self, p, s):
        dev = p.device  # state lands on the parameter's device (see Optimizer._load_param_state)
        return {k: (_backend.move(v.copy(), dev) if _backend.is_array(v) else
                    [_backend.move(np.array(_backend.to_host(x), copy=True), dev) for x in v]
                    if isinstance(v, (list, tuple)) else v)
                for k, v in s.items()}

    # ---- flat views of all parameters ---------------------------------------------------
    def _dtype(self):
        return np.result_type(*[p.data.dtype for p in self._params])

    def _gather_grad(self):
        parts = []
        xp = _backend.get_array_module(self._params[0].data)
        for p in self._params:
            if p.grad is None:
                parts.append(xp.zeros(p.data.size, self._dtype()))
            else:
                parts.append(p.grad.data.reshape(-1))
        return xp.concatenate(parts).astype(self._dtype(), copy=False)

    def _add_step(self, t, d):
        off = 0
        for p in self._params:
            n = p.data.size
            p.data += (t * d[off:off + n]).reshape(p.data.shape).astype(p.data.dtype, copy=False)
            p._vb[0] += 1
            off += n

    def _copy_params(self):
        return [p.data.copy() for p in self._params]

    def _set_params(self, saved):
        for p, x in zip(self._params, saved):
            np.copyto(p.data, x)
            p._vb[0] += 1

    def _directional_evaluate(self, closure, x, t, d):
        self._add_step(t, d)
        loss = float(self._closure_loss(closure))
        g = self._gather_grad()
        self._set_params(x)
        return loss, g

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss before the first."""
        if closure is None:
            raise RuntimeError("LBFGS.step() needs a closure that re-evaluates the loss "
                               "(zero grads, forward, backward, return loss)")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search_fn = group["history_size"], group["line_search_fn"]

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._closure_loss(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_grad()
        if np.abs(flat_grad).max() <= tol_grad:
            return orig_loss

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")
        old_stps = state.get("old_stps")
        ro = state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                # curvature pair: y = change of gradient, s = step taken
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep H positive definite: skip pairs with bad curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)  # H0 = gamma I, N&W eq. 7.20
                # two-loop recursion (N&W Algorithm 7.4): d = -H g
                k = len(old_dirs)
                al = [0.0] * k
                q = -flat_grad
                for i in range(k - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(k):
                    be_i = float(old_dirs[i] @ r) * ro[i]
                    r += old_stps[i] * (al[i] - be_i)

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:  # not a descent direction (or no progress possible)
                break

            ls_evals = 0
            if line_search_fn == "strong_wolfe":
                x_init = self._copy_params()

                def obj(x, step, direction):
                    return self._directional_evaluate(closure, x, step, direction)

                loss, flat_grad, t, ls_evals = _strong_wolfe(obj, x_init, t, d, loss,
                                                             flat_grad, gtd,
                                                             tolerance_change=tol_change)
                self._add_step(t, d)
                opt_cond = np.abs(flat_grad).max() <= tol_grad
            else:
                self._add_step(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(self._closure_loss(closure))
                    flat_grad = self._gather_grad()
                    opt_cond = np.abs(flat_grad).max() <= tol_grad
                    ls_evals = 1
            current_evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
