"""Caffe's solver update rules, on raw arrays, per blob with rate = lr * lr_mult and
gradient g (already regularised: L2 adds decay * decay_mult * w, L1 decay * decay_mult * sign w).

    SGD       h = momentum h + rate g;                     w -= h
    Nesterov  h' = momentum h + rate g;                    w -= (1 + momentum) h' - momentum h
    AdaGrad   h += g^2;                                    w -= rate g / (sqrt(h) + delta)
    RMSProp   h = rms_decay h + (1 - rms_decay) g^2;       w -= rate g / (sqrt(h) + delta)
    AdaDelta  h = m h + (1 - m) g^2;  u = g sqrt((h2 + delta) / (h + delta));
              h2 = m h2 + (1 - m) u^2;                     w -= rate u          (m = momentum)
    Adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
              w -= rate sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + delta)
              (b1 = momentum, b2 = momentum2, delta = eps, t = iteration + 1)

These are Caffe's own formulas (the learning rate multiplies inside the momentum, unlike
PyTorch's SGD), so a Caffe solver behaves here as it does in Caffe. History arrays are in
Caffe's solverstate order: one per blob, and for AdaDelta and Adam a second set after the first.
"""
from typing import List

import numpy as np

from ..backend import get_array_module
from .errors import CaffeError

TYPES = ("SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam")
_LEGACY = {"SGD": "SGD", "NESTEROV": "Nesterov", "ADAGRAD": "AdaGrad", "RMSPROP": "RMSProp",
           "ADADELTA": "AdaDelta", "ADAM": "Adam"}


def history_sets(solver_type: str) -> int:
    return 2 if solver_type in ("AdaDelta", "Adam") else 1


class Updater:
    def __init__(self, solver_type: str, sp, shapes: List[tuple]):
        if solver_type not in TYPES:
            raise CaffeError(f"{sp.where('type')}: unknown solver type '{solver_type}'; "
                             f"supported: {', '.join(TYPES)}")
        self.type, self.sp = solver_type, sp
        self.momentum, self.delta = float(sp.momentum), float(sp.delta)
        self.history = [np.zeros(s, np.float32)
                        for _ in range(history_sets(solver_type)) for s in shapes]
        self.n = len(shapes)

    def update(self, i: int, w: np.ndarray, g: np.ndarray, rate: float, it: int) -> None:
        """Apply one step to blob ``i`` in place."""
        xp = get_array_module(w, g)
        h = self.history[i]
        mom, t = self.momentum, self.type
        if t == "SGD":
            h *= mom
            h += rate * g
            w -= h
        elif t == "Nesterov":
            prev = h.copy()
            h *= mom
            h += rate * g
            w -= (1 + mom) * h - mom * prev
        elif t == "AdaGrad":
            h += g * g
            w -= rate * g / (xp.sqrt(h) + self.delta)
        elif t == "RMSProp":
            d = float(self.sp.rms_decay)
            h *= d
            h += (1 - d) * g * g
            w -= rate * g / (xp.sqrt(h) + self.delta)
        elif t == "AdaDelta":
            h2 = self.history[i + self.n]
            h *= mom
            h += (1 - mom) * g * g
            u = g * xp.sqrt((h2 + self.delta) / (h + self.delta))
            h2 *= mom
            h2 += (1 - mom) * u * u
            w -= rate * u
        else:  # Adam
            v = self.history[i + self.n]
            b1, b2 = mom, float(self.sp.momentum2)
            h *= b1
            h += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            step = it + 1
            corr = np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
            w -= rate * corr * h / (xp.sqrt(v) + self.delta)


def solver_type(sp) -> str:
    """The solver's type: ``type: "Adam"``, or the deprecated ``solver_type: ADAM`` enum."""
    if sp.has("type"):
        return sp.type
    if sp.has("solver_type"):
        return _LEGACY[sp.solver_type]
    return "SGD"
