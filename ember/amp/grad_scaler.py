"""``GradScaler``: dynamic loss scaling for float16 training, as ``torch.amp.GradScaler``.

float16 gradients underflow below ~6e-8; multiplying the loss by a large ``scale`` before
``backward`` keeps them representable. The scaler then divides the gradients by ``scale``
(``unscale_``), skips the optimizer step when any gradient is inf/NaN (the scale was too
large), and adapts the scale (``update``)::

    after a step with inf/NaN grads:      scale *= backoff_factor, growth tracker = 0
    after growth_interval good steps:     scale *= growth_factor,  growth tracker = 0

Typical loop::

    scaler = ember.amp.GradScaler()
    with ember.autocast("cpu", dtype=ember.float16):
        loss = loss_fn(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(opt)        # unscales, then steps unless a gradient is inf/NaN
    scaler.update()
"""
import math
from typing import Any, Dict, Optional

import numpy as np

from .. import backend as _backend

_READY, _UNSCALED, _STEPPED = 0, 1, 2


class GradScaler:
    """``GradScaler(device="cpu", init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``: PyTorch's defaults and semantics. The scale is
    kept as a float32 number (as PyTorch's scale tensor), so both give the same sequence."""

    def __init__(self, device: str = "cpu", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True):
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got "
                             f"{backoff_factor}")
        if int(growth_interval) != growth_interval or growth_interval <= 0:
            raise ValueError(f"GradScaler: growth_interval must be a positive integer, got "
                             f"{growth_interval}")
        self._device = str(device)
        self._enabled = bool(enabled)
        self._scale = float(np.float32(init_scale))
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer = {}  # id(optimizer) -> {"stage", "found_inf"}

    # ---- the loop ---------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs * scale`` (a tensor, or a list/tuple of tensors)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY,
                                                              "found_inf": False})

    def unscale_(self, optimizer) -> None:
        """Divide the gradients of ``optimizer``'s parameters by the scale in place and record
        whether any is inf/NaN. Call it before clipping gradients; at most once per update."""
        if not self._enabled:
            return
        st = self._state(optimizer)
        if st["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if st["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv = float(np.float32(1.0 / self._scale))  # float32 like PyTorch's reciprocal
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if g.dtype == np.float16:
                    raise ValueError("Attempting to unscale FP16 gradients: keep the parameters "
                                     "in float32 and let ember.autocast run the low-precision "
                                     "ops (the gradients then arrive in float32)")
                xp = _backend.get_array_module(g)
                if not found and not bool(xp.isfinite(g).all()):
                    found = True
                g *= g.dtype.type(inv)
                p.grad._vb[0] += 1
        st["found_inf"] = found
        st["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs) -> Optional[Any]:
        """``unscale_`` (if not done yet), then ``optimizer.step()`` unless a gradient is
        inf/NaN, in which case the step is skipped. Returns what ``optimizer.step`` returned
        (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs or args:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        st = self._state(optimizer)
        if st["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if st["stage"] == _READY:
            self.unscale_(optimizer)
        ret = None
        if not st["found_inf"]:
            ret = optimizer.step()
        st["stage"] = _STEPPED
        return ret

    def update(self, new_scale: Optional[float] = None) -> None:
        """Adapt the scale after this iteration's steps (or set it to ``new_scale``)."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(np.float32(float(new_scale)))
        else:
            if not self._per_optimizer:
                raise RuntimeError("update(): no inf checks were recorded prior to update "
                                   "(call scaler.step(optimizer) or unscale_ first)")
            found = any(s["found_inf"] for s in self._per_optimizer.values())
            if found:
                self._scale = float(np.float32(self._scale * self._backoff_factor))
                self._growth_tracker = 0
            else:
                good = self._growth_tracker + 1
                if good == self._growth_interval:
                    grown = float(np.float32(self._scale * self._growth_factor))
                    if math.isfinite(grown):
                        self._scale = grown
                    good = 0
                self._growth_tracker = good
        self._per_optimizer = {}

    # ---- accessors and state ------------------------------------------------------------
    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> Dict[str, Any]:
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval,
        _growth_tracker (empty when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        missing = {"scale", "growth_factor", "backoff_factor", "growth_interval",
                   "_growth_tracker"} - set(state_dict)
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing key(s) {sorted(missing)}")
        self._scale = float(np.float32(state_dict["scale"]))
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])

    def __repr__(self):
        return (f"GradScaler(scale={self._scale}, growth_factor={self._growth_factor}, "
                f"backoff_factor={self._backoff_factor}, "
                f"growth_interval={self._growth_interval}, enabled={self._enabled})")
