"""RMSprop, Adagrad and Adadelta, as ``torch.optim.RMSprop`` / ``Adagrad`` / ``Adadelta``."""
import numpy as np

from ._fused import axpby, axpy, compiled, flat_views, python_scalars
from .optimizer import Optimizer, check_nonneg, check_unit

__all__ = ["RMSprop", "Adagrad", "Adadelta"]


class RMSprop(Optimizer):
    r"""``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, maximize=False)`` (Hinton's lecture 6e; PyTorch's form)::

        v = alpha * v + (1 - alpha) * d**2
        avg = sqrt(v - gbar**2) + eps  (centered: gbar = alpha gbar + (1-alpha) d)
            else sqrt(v) + eps
        b = momentum * b + d / avg;  p -= lr * b      (momentum > 0)
        p -= lr * d / avg                             (otherwise)
    """

    _param_buffers = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check_group(self, g):
        check_nonneg("learning rate", g["lr"])
        check_nonneg("epsilon value", g["eps"])
        check_nonneg("momentum value", g["momentum"])
        check_nonneg("weight_decay value", g["weight_decay"])
        check_unit("alpha value", g["alpha"], closed=True)

    def step(self, closure=None):
        """One RMSprop update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, mom, centered, maxi = (group["weight_decay"], group["momentum"],
                                       group["centered"], group["maximize"])
            fast = python_scalars(lr, alpha, eps)

            def init(pa):
                s = {"step": 0, "square_avg": np.zeros_like(pa)}
                if mom > 0:
                    s["momentum_buffer"] = np.zeros_like(pa)
                if centered:
                    s["grad_avg"] = np.zeros_like(pa)
                return s

            def update(pa, g, sq, ga, buf, a, b):
                if ga is None and buf is None and wd == 0 and not maxi and fast:
                    flat = flat_views(pa, g, sq)
                    if flat is not None:  # one compiled pass, the same floats as below
                        c = pa.dtype.type
                        compiled().rmsprop(*flat, c(alpha), c(1 - alpha), c(eps), c(-lr))
                        return
                d = self._eff_grad(pa, g, wd, maxi, a)
                np.multiply(d, d, out=b)
                axpby(1 - alpha, b, alpha, sq, b)
                if ga is not None:  # centered: divide by the estimated std, not the RMS
                    axpby(1 - alpha, d, alpha, ga, b)
                    np.multiply(ga, ga, out=b)
                    np.subtract(sq, b, out=b)
                    np.sqrt(b, out=b)
                else:
                    np.sqrt(sq, out=b)
                b += eps
                np.divide(d, b, out=b)
                if buf is not None:
                    axpby(1, b, mom, buf, b)
                    axpy(-lr, buf, pa, b)
                else:
                    axpy(-lr, b, pa, b)

            for p, pa, g in self._grads(group):
                st = self._state_for(p, init)
                st["step"] += 1
                ga = st.setdefault("grad_avg", np.zeros_like(pa)) if centered else None
                buf = st.setdefault("momentum_buffer", np.zeros_like(pa)) if mom > 0 else None
                update(pa, g, st["square_avg"], ga, buf, self._scratch(pa, 0),
                       self._scratch(pa, 1))
                p._vb[0] += 1
        return loss


class Adagrad(Optimizer):
    r"""``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, maximize=False)`` (Duchi et al.)::

        s += d**2;   p -= lr / (1 + (t - 1) lr_decay) * d / (sqrt(s) + eps)

    The effective step shrinks as ``s`` grows: suited to sparse features, slow on long runs.
    """

    _param_buffers = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _check_group(self, g):
        check_nonneg("learning rate", g["lr"])
        check_nonneg("lr_decay value", g["lr_decay"])
        check_nonneg("weight_decay value", g["weight_decay"])
        check_nonneg("initial_accumulator_value", g["initial_accumulator_value"])
        check_nonneg("epsilon value", g["eps"])

    def step(self, closure=None):
        """One Adagrad update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            wd, maxi, init_acc = (group["weight_decay"], group["maximize"],
                                  group["initial_accumulator_value"])

            def init(pa):
                return {"step": 0, "sum": np.full_like(pa, init_acc)}

            for p, pa, g in self._grads(group):
                st = self._state_for(p, init)
                st["step"] = t = st["step"] + 1
                a = self._scratch(pa, 0)
                b = self._scratch(pa, 1)
                d = self._eff_grad(pa, g, wd, maxi, a)
                s = st["sum"]
                np.multiply(d, d, out=b)
                s += b
                np.sqrt(s, out=b)
                b += eps
                np.divide(d, b, out=b)
                axpy(-lr / (1 + (t - 1) * lr_decay), b, pa, b)
                p._vb[0] += 1
        return loss


class Adadelta(Optimizer):
    r"""``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)``
    (Zeiler)::

        v = rho v + (1 - rho) d**2
        delta = sqrt(u + eps) / sqrt(v + eps) * d
        u = rho u + (1 - rho) delta**2;   p -= lr * delta
    """

    _param_buffers = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check_group(self, g):
        check_nonneg("learning rate", g["lr"])
        check_unit("rho value", g["rho"], closed=True)
        check_nonneg("epsilon value", g["eps"])
        check_nonneg("weight_decay value", g["weight_decay"])

    @staticmethod
    def _init(pa):
        return {"step": 0, "square_avg": np.zeros_like(pa), "acc_delta": np.zeros_like(pa)}

    def step(self, closure=None):
        """One Adadelta update of every parameter with a gradient; returns ``closure()``'s
        loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            wd, maxi = group["weight_decay"], group["maximize"]
            for p, pa, g in self._grads(group):
                st = self._state_for(p, self._init)
                st["step"] += 1
                a = self._scratch(pa, 0)
                b = self._scratch(pa, 1)
                c = self._scratch(pa, 2)
                d = self._eff_grad(pa, g, wd, maxi, a)
                sq, acc = st["square_avg"], st["acc_delta"]
                np.multiply(d, d, out=b)
                axpby(1 - rho, b, rho, sq, b)
                np.add(sq, eps, out=b)
                np.sqrt(b, out=b)
                np.add(acc, eps, out=c)
                np.sqrt(c, out=c)
                c /= b
                c *= d
                np.multiply(c, c, out=b)
                axpby(1 - rho, b, rho, acc, b)
                axpy(-lr, c, pa, b)
                p._vb[0] += 1
        return loss
