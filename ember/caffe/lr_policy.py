"""Caffe's learning-rate policies: the rate at iteration ``it`` (counts are iterations).

    fixed      base_lr
    step       base_lr * gamma ^ floor(it / stepsize)
    exp        base_lr * gamma ^ it
    inv        base_lr * (1 + gamma * it) ^ (-power)
    multistep  base_lr * gamma ^ (number of stepvalue entries passed)
    poly       base_lr * (1 - it / max_iter) ^ power
    sigmoid    base_lr / (1 + exp(-gamma * (it - stepsize)))
"""
import math

from .errors import CaffeError
from .message import Msg

POLICIES = ("fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid")


def check_policy(sp: Msg) -> None:
    """Reject a policy or its settings before training starts."""
    p = sp.lr_policy
    where = sp.where("lr_policy")
    if p not in POLICIES:
        raise CaffeError(f"{where}: unknown lr_policy '{p}'; supported: {', '.join(POLICIES)}")
    need = {"step": ("gamma", "stepsize"), "exp": ("gamma",), "inv": ("gamma", "power"),
            "multistep": ("gamma", "stepvalue"), "poly": ("power",),
            "sigmoid": ("gamma", "stepsize")}.get(p, ())
    for k in need:
        if not sp.has(k):
            raise CaffeError(f"{where}: lr_policy '{p}' needs {k}")
    if p == "step" and sp.stepsize <= 0:
        raise CaffeError(f"{sp.where('stepsize')}: stepsize must be positive")
    if p == "multistep" and list(sp.stepvalue) != sorted(sp.stepvalue):
        raise CaffeError(f"{sp.where('stepvalue')}: stepvalue entries must increase")


class LearningRate:
    """``rate(it)``; multistep keeps Caffe's ``current_step`` (saved in the solverstate)."""

    def __init__(self, sp: Msg, current_step: int = 0):
        self.sp, self.current_step = sp, int(current_step)

    def rate(self, it: int) -> float:
        sp = self.sp
        p, base, g = sp.lr_policy, float(sp.base_lr), float(sp.gamma)
        if p == "fixed":
            return base
        if p == "step":
            self.current_step = it // sp.stepsize
            return base * g ** self.current_step
        if p == "exp":
            return base * g ** it
        if p == "inv":
            return base * (1.0 + g * it) ** (-float(sp.power))
        if p == "multistep":
            steps = list(sp.stepvalue)
            while self.current_step < len(steps) and it >= steps[self.current_step]:
                self.current_step += 1
            return base * g ** self.current_step
        if p == "poly":
            return base * (1.0 - it / float(sp.max_iter)) ** float(sp.power)
        if p == "sigmoid":
            return base / (1.0 + math.exp(-g * (it - float(sp.stepsize))))
        raise CaffeError(f"unknown lr_policy '{p}'")
