"""Stochastic gradient descent with (Nesterov) momentum, as ``torch.optim.SGD``."""
import numpy as np

from ..tensor import Tensor
from ._fused import SMALL, _const, axpby, axpy, compiled, flat_views, python_scalars
from .optimizer import Optimizer, check_nonneg, required

_ndarray, _add, _mul = np.ndarray, np.add, np.multiply

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    maximize=False)``.

    With ``d = g + weight_decay * p`` (``-g`` when maximizing)::

        b = d                                   (first step)
        b = momentum * b + (1 - dampening) * d  (later steps)
        d = d + momentum * b  if nesterov else  b        (only when momentum != 0)
        p = p - lr * d
    """

    _param_buffers = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _check_group(self, g):
        if g["lr"] is required:
            raise ValueError("SGD: lr is required")
        check_nonneg("learning rate", g["lr"])
        check_nonneg("momentum value", g["momentum"])
        check_nonneg("dampening value", g["dampening"])
        check_nonneg("weight_decay value", g["weight_decay"])
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def step(self, closure=None):
        """One update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = None if closure is None else self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            if lr.__class__ is not float or lr == -1.0 or group["momentum"] != 0 or \
                    group["weight_decay"] != 0 or group["maximize"]:
                self._general_step(group)
                continue
            # The common case (no momentum, no weight decay, not maximizing): p += (-lr) g with
            # the Python overhead of the general path removed, as a tiny model's step is a few
            # ufunc calls per parameter. The same float operations as axpy: g times -lr (a 0-d
            # array of g's dtype, as NEP 50 casts the Python float), then the add.
            todo = []
            keep = todo.append
            for p in group["params"]:  # every shape is checked before any parameter changes
                g = p.grad
                if g is not None:
                    ga = g.data if g.__class__ is Tensor or isinstance(g, Tensor) else \
                        np.asarray(g)
                    pa = p.data
                    if ga.shape != pa.shape:
                        self._grads({"params": [p]})  # raises the shape error
                    keep((p, pa, ga))
            alpha = -lr
            dt = c = None
            for p, pa, ga in todo:
                if pa.__class__ is _ndarray:
                    if ga.dtype is not dt:
                        dt = ga.dtype
                        c = _const(alpha, dt)
                    _add(pa, _mul(ga, c, None if pa.size < SMALL else self._scratch(pa, 1)), pa)
                else:
                    axpy(alpha, ga, pa, None if pa.size < SMALL else self._scratch(pa, 1))
                p._vb[0] += 1
        return loss

    def _general_step(self, group):
        lr, mom, damp = group["lr"], group["momentum"], group["dampening"]
        wd, nest, maxi = group["weight_decay"], group["nesterov"], group["maximize"]
        plain = wd == 0 and not maxi  # d is g itself: no scratch for it
        for p, pa, g in self._grads(group):
            d = g if plain else self._eff_grad(pa, g, wd, maxi, self._scratch(pa, 0))
            b = self._scratch(pa, 1) if pa.size >= SMALL else None  # None: allocate
            if mom != 0:
                st = self.state.get(p)
                buf = None if st is None else st.get("momentum_buffer")
                if buf is None:
                    buf = d.astype(pa.dtype, copy=True)
                    self.state[p] = {"momentum_buffer": buf}
                elif not nest and python_scalars(lr, mom, damp) and \
                        (flat := flat_views(pa, d, buf)) is not None:  # one compiled pass
                    c = pa.dtype.type
                    compiled().sgd_momentum(*flat, c(mom), c(1 - damp), c(-lr))
                    p._vb[0] += 1
                    continue
                else:
                    axpby(1 - damp, d, mom, buf, b)
                if nest:  # p -= lr * (d + mom * buf)
                    axpy(-lr, d, pa, b)
                    axpy(-lr * mom, buf, pa, b)
                else:
                    axpy(-lr, buf, pa, b)
            else:
                axpy(-lr, d, pa, b)
            p._vb[0] += 1
