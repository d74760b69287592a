"""Keras's update rules, as ember optimizers (``ember.optim.Optimizer`` subclasses).

``ember.optim`` follows PyTorch; Keras writes some rules differently and a ported Keras recipe
should behave as in Keras, so ``compile(optimizer='rmsprop')`` and ``keras.optimizers.*`` build
these. With g the gradient, t the step (from 1), lr the learning rate:

- SGD:      v = momentum v - lr g;  w += v   (nesterov: w += momentum v - lr g)
- RMSprop:  s = rho s + (1 - rho) g^2;  step = lr g / sqrt(s + eps)   (centered: s - gbar^2 + eps)
            momentum > 0: b = momentum b + step; w -= b   else w -= step
- Adam:     m += (1 - b1)(g - m);  v += (1 - b2)(g^2 - v)   (amsgrad: v_max = max(v_max, v))
            w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)   (Kingma & Ba's
            "epsilon hat": eps is added to the *uncorrected* sqrt(v))
- Adagrad:  a += g^2 (a starts at initial_accumulator_value);  w -= lr g / sqrt(a + eps)
- Adadelta: a = rho a + (1 - rho) g^2;  d = -sqrt(u + eps) / sqrt(a + eps) g;
            u = rho u + (1 - rho) d^2;  w += lr d
- Nadam:    mu_t = b1 (1 - 0.5 * 0.96^t),  P_t = prod_{i<=t} mu_i;  m, v as Adam;
            m_hat = mu_{t+1} m / (1 - P_t mu_{t+1}) + (1 - mu_t) g / (1 - P_t);
            w -= lr m_hat / (sqrt(v / (1 - b2^t)) + eps)

``weight_decay`` is Keras's decoupled decay, applied before the update: w -= lr wd w.
"""
import math

import numpy as np

from ..optim._fused import compiled, flat_views, python_scalars
from ..optim.optimizer import Optimizer, check_nonneg, check_unit

__all__ = ["KerasSGD", "KerasRMSprop", "KerasAdam", "KerasAdagrad", "KerasAdadelta",
           "KerasNadam"]


class _KerasOptimizer(Optimizer):
    """Shared loop: per parameter, decoupled weight decay then ``_update(w, g, state, group)``."""

    def _check_group(self, g):
        check_nonneg("learning rate", g["lr"])
        check_nonneg("weight_decay value", g.get("weight_decay", 0.0))
        if "eps" in g:
            check_nonneg("epsilon value", g["eps"])

    def _init(self, w, group):
        return {"step": 0}

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, wd = group["lr"], group.get("weight_decay", 0.0)
            self._begin_step(group)
            for p, w, g in self._grads(group):
                st = self._state_for(p, lambda a: self._init(a, group))
                st["step"] += 1
                if wd:
                    w -= (lr * wd) * w
                self._update(w, g, st, group)
                p._vb[0] += 1
        return loss

    def _begin_step(self, group):
        """Once per step and group, before the parameters (Nadam's momentum product)."""

    def _update(self, w, g, st, group):
        raise NotImplementedError


class KerasSGD(_KerasOptimizer):
    """Keras's SGD: the velocity holds ``-lr * g`` terms (so a changed lr only scales new
    gradients, unlike PyTorch's buffer of raw gradients)."""

    _param_buffers = ("momentum",)

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay))

    def _check_group(self, g):
        super()._check_group(g)
        check_unit("momentum value", g["momentum"], closed=True)

    def _update(self, w, g, st, group):
        lr, mom = group["lr"], group["momentum"]
        if not mom:
            w -= lr * g
            return
        v = st.get("momentum")
        if v is None:
            v = st["momentum"] = np.zeros_like(w)
        v *= mom
        v -= lr * g
        if group["nesterov"]:
            w += mom * v - lr * g
        else:
            w += v


class KerasRMSprop(_KerasOptimizer):
    """Keras's RMSprop: divides by ``sqrt(s + eps)`` (PyTorch: ``sqrt(s) + eps``)."""

    _param_buffers = ("velocity", "average_gradient", "momentum")

    def __init__(self, params, lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False,
                 weight_decay=0.0):
        super().__init__(params, dict(lr=lr, rho=rho, momentum=momentum, eps=eps,
                                      centered=centered, weight_decay=weight_decay))

    def _check_group(self, g):
        super()._check_group(g)
        check_unit("rho value", g["rho"], closed=True)
        check_unit("momentum value", g["momentum"], closed=True)

    def _init(self, w, group):
        return {"step": 0, "velocity": np.zeros_like(w)}

    def _update(self, w, g, st, group):
        lr, rho, eps, mom = group["lr"], group["rho"], group["eps"], group["momentum"]
        if not group["centered"] and not mom > 0 and python_scalars(lr, rho, eps):
            flat = flat_views(w, g, st["velocity"])
            if flat is not None:  # one compiled pass, the same floats as the passes below
                c = w.dtype.type
                compiled().keras_rmsprop(*flat, c(rho), c(1 - rho), c(eps), c(lr))
                return
        s, t = st["velocity"], self._scratch(w, 0)  # t: a reused temporary, no allocation
        np.multiply(g, g, out=t)
        t *= 1 - rho
        s *= rho
        s += t
        if group["centered"]:
            a = st.setdefault("average_gradient", np.zeros_like(w))
            a *= rho
            np.multiply(g, 1 - rho, out=t)
            a += t
            np.multiply(a, a, out=t)
            np.subtract(s, t, out=t)
            t += eps
        else:
            np.add(s, eps, out=t)
        np.sqrt(t, out=t)
        np.divide(g, t, out=t)
        t *= lr  # the increment lr g / sqrt(s + eps)
        if mom > 0:
            b = st.setdefault("momentum", np.zeros_like(w))
            b *= mom
            b += t
            w -= b
        else:
            w -= t


class KerasAdam(_KerasOptimizer):
    """Keras's Adam (and AdamW with ``weight_decay``): epsilon added to the uncorrected
    ``sqrt(v)``, the bias corrections folded into the step size."""

    _param_buffers = ("m", "v", "v_max")

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-7, amsgrad=False,
                 weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, amsgrad=amsgrad,
                                      weight_decay=weight_decay))

    def _check_group(self, g):
        super()._check_group(g)
        for i, b in enumerate(g["betas"]):
            check_unit(f"beta parameter at index {i}", b)

    def _init(self, w, group):
        return {"step": 0, "m": np.zeros_like(w), "v": np.zeros_like(w)}

    def _update(self, w, g, st, group):
        (b1, b2), eps, t = group["betas"], group["eps"], st["step"]
        m, v = st["m"], st["v"]
        alpha = group["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        if not group["amsgrad"] and python_scalars(group["lr"], b1, b2, eps):
            flat = flat_views(w, g, m, v)
            if flat is not None:  # one compiled pass, the same floats as the passes below
                c = w.dtype.type
                compiled().keras_adam(*flat, c(1 - b1), c(1 - b2), c(eps), c(alpha))
                return
        b = self._scratch(w, 0)
        np.subtract(g, m, out=b)
        b *= 1 - b1
        m += b
        np.multiply(g, g, out=b)
        b -= v
        b *= 1 - b2
        v += b
        if group["amsgrad"]:
            vm = st.setdefault("v_max", np.zeros_like(w))
            np.maximum(vm, v, out=vm)
            v = vm
        np.sqrt(v, out=b)
        b += eps
        np.divide(m, b, out=b)
        b *= alpha
        w -= b


class KerasAdagrad(_KerasOptimizer):
    """Keras's Adagrad: ``w -= lr g / sqrt(a + eps)``, accumulator starting at 0.1."""

    _param_buffers = ("accumulator",)

    def __init__(self, params, lr=0.001, initial_accumulator_value=0.1, eps=1e-7,
                 weight_decay=0.0):
        super().__init__(params, dict(lr=lr, initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, weight_decay=weight_decay))

    def _init(self, w, group):
        return {"step": 0, "accumulator": np.full_like(w, group["initial_accumulator_value"])}

    def _update(self, w, g, st, group):
        a = st["accumulator"]
        a += g * g
        w -= group["lr"] * g / np.sqrt(a + group["eps"])


class KerasAdadelta(_KerasOptimizer):
    """Keras's Adadelta (Zeiler 2012 with Keras's learning rate, default 0.001)."""

    _param_buffers = ("accumulated_grad", "accumulated_delta")

    def __init__(self, params, lr=0.001, rho=0.95, eps=1e-7, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _check_group(self, g):
        super()._check_group(g)
        check_unit("rho value", g["rho"], closed=True)

    def _init(self, w, group):
        return {"step": 0, "accumulated_grad": np.zeros_like(w),
                "accumulated_delta": np.zeros_like(w)}

    def _update(self, w, g, st, group):
        rho, eps = group["rho"], group["eps"]
        a, u = st["accumulated_grad"], st["accumulated_delta"]
        a *= rho
        a += (1 - rho) * (g * g)
        d = -np.sqrt(u + eps) / np.sqrt(a + eps) * g
        u *= rho
        u += (1 - rho) * (d * d)
        w += group["lr"] * d


class KerasNadam(_KerasOptimizer):
    """Keras's Nadam (Dozat 2016, with the 0.96 momentum schedule)."""

    _param_buffers = ("m", "v")

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def _check_group(self, g):
        super()._check_group(g)
        for i, b in enumerate(g["betas"]):
            check_unit(f"beta parameter at index {i}", b)

    def _init(self, w, group):
        return {"step": 0, "m": np.zeros_like(w), "v": np.zeros_like(w), "u_product": 1.0}

    def _update(self, w, g, st, group):
        (b1, b2), eps, t = group["betas"], group["eps"], st["step"]
        mu_t = b1 * (1 - 0.5 * 0.96 ** t)
        mu_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        prod = float(st["u_product"]) * mu_t
        st["u_product"] = prod
        m, v = st["m"], st["v"]
        m += (1 - b1) * (g - m)
        v += (1 - b2) * (g * g - v)
        m_hat = mu_next * m / (1 - prod * mu_next) + (1 - mu_t) * g / (1 - prod)
        v_hat = v / (1 - b2 ** t)
        w -= group["lr"] * m_hat / (np.sqrt(v_hat) + eps)
