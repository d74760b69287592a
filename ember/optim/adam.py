"""Adam, AdamW and NAdam, as ``torch.optim.Adam`` / ``AdamW`` / ``NAdam``."""
import math

import numpy as np

from ._fused import axpby, axpy, compiled, flat_views, python_scalars
from .optimizer import Optimizer, check_betas, check_nonneg

__all__ = ["Adam", "AdamW", "NAdam"]


def _check_adam(g):
    check_nonneg("learning rate", g["lr"])
    check_nonneg("epsilon value", g["eps"])
    check_betas(g["betas"])
    check_nonneg("weight_decay value", g["weight_decay"])


def _zeros_state(*names):
    def init(pa):
        s = {"step": 0}
        for n in names:
            s[n] = np.zeros_like(pa)
        return s
    return init


class Adam(Optimizer):
    r"""``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    maximize=False, decoupled_weight_decay=False)`` (Kingma & Ba, with bias correction).

    With ``d = g + weight_decay * p`` (or, decoupled, ``p *= 1 - lr * weight_decay``)::

        m = beta1 * m + (1 - beta1) * d          v = beta2 * v + (1 - beta2) * d**2
        v_hat = max(v_hat, v) if amsgrad else v
        p = p - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)
    """

    _param_buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas) if isinstance(betas, list)
                                      else betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check_group(self, g):
        _check_adam(g)

    def step(self, closure=None):
        """One Adam update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            wd, ams, maxi = group["weight_decay"], group["amsgrad"], group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            init = _zeros_state("exp_avg", "exp_avg_sq", *(("max_exp_avg_sq",) if ams else ()))
            fast = python_scalars(lr, b1, b2, eps, wd)

            def update(pa, g, m, v, vmax, a, b, t):
                d = self._decayed_grad(pa, g, lr, wd, decoupled, maxi, a)
                bc1 = 1 - b1 ** t
                bc2_sqrt = math.sqrt(1 - b2 ** t)
                flat = None if not fast else flat_views(pa, d, m, v) if vmax is None else \
                    flat_views(pa, d, m, v, vmax)
                if flat is not None:  # one compiled pass, the same floats as below
                    c = pa.dtype.type
                    args = (c(b1), c(1 - b1), c(b2), c(1 - b2), c(eps * bc2_sqrt),
                            c(-lr / bc1 * bc2_sqrt))
                    if vmax is None:
                        compiled().adam(*flat, *args)
                    else:
                        compiled().adam_amsgrad(*flat, *args)
                    return
                axpby(1 - b1, d, b1, m, b)
                np.multiply(d, d, out=b)
                axpby(1 - b2, b, b2, v, b)
                if vmax is not None:
                    np.maximum(vmax, v, out=vmax)
                    v = vmax
                # m / (sqrt(v)/c + eps) * s == m / (sqrt(v) + eps*c) * (s*c): one pass fewer
                np.sqrt(v, out=b)
                b += eps * bc2_sqrt
                np.divide(m, b, out=b)
                axpy(-lr / bc1 * bc2_sqrt, b, pa, b)

            for p, pa, g in self._grads(group):
                st = self._state_for(p, init)
                st["step"] = t = st["step"] + 1
                vmax = None
                if ams:
                    vmax = st.get("max_exp_avg_sq")
                    if vmax is None:
                        vmax = st["max_exp_avg_sq"] = np.zeros_like(pa)
                update(pa, g, st["exp_avg"], st["exp_avg_sq"], vmax, self._scratch(pa, 0),
                       self._scratch(pa, 1), t)
                p._vb[0] += 1
        return loss


class AdamW(Adam):
    r"""``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False, maximize=False)``: Adam with decoupled weight decay (Loshchilov & Hutter):
    ``p *= 1 - lr * weight_decay`` before the Adam step, instead of adding it to the gradient."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)


class NAdam(Optimizer):
    r"""``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False)`` (Dozat: Adam with
    Nesterov momentum and the momentum schedule ``mu_t = beta1 (1 - 0.5 * 0.96**(t psi))``)::

        m, v as Adam;  denom = sqrt(v / (1 - beta2**t)) + eps
        p -= lr (1 - mu_t) / (1 - prod_{i<=t} mu_i) * d / denom
        p -= lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m / denom
    """

    _param_buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _check_group(self, g):
        _check_adam(g)
        check_nonneg("momentum_decay value", g["momentum_decay"])

    @staticmethod
    def _init(pa):
        return {"step": 0, "mu_product": 1.0, "exp_avg": np.zeros_like(pa),
                "exp_avg_sq": np.zeros_like(pa)}

    def step(self, closure=None):
        """One NAdam update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            wd, psi, maxi = group["weight_decay"], group["momentum_decay"], group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p, pa, g in self._grads(group):
                st = self._state_for(p, self._init)
                st["step"] = t = st["step"] + 1
                m, v = st["exp_avg"], st["exp_avg_sq"]
                a = self._scratch(pa, 0)
                b = self._scratch(pa, 1)
                c = self._scratch(pa, 2)
                d = self._decayed_grad(pa, g, lr, wd, decoupled, maxi, a)
                mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                st["mu_product"] = mu_prod = float(st["mu_product"]) * mu
                axpby(1 - b1, d, b1, m, b)
                np.multiply(d, d, out=b)
                axpby(1 - b2, b, b2, v, b)
                np.divide(v, 1 - b2 ** t, out=b)
                np.sqrt(b, out=b)
                b += eps
                np.divide(d, b, out=c)
                axpy(-lr * (1.0 - mu) / (1.0 - mu_prod), c, pa, c)
                np.divide(m, b, out=c)
                axpy(-lr * mu_next / (1.0 - mu_prod * mu_next), c, pa, c)
                p._vb[0] += 1
        return loss
