"""Additive Gaussian noise."""
import numpy as np

from .base import Transform, float_dtype


class GaussianNoise(Transform):
    """``x + N(mean, std^2)`` per element; optionally clipped to ``clip = (lo, hi)``."""

    keeps_dtype = False
    tensor_only = True

    def __init__(self, std=0.1, mean=0.0, clip=None, generator=None):
        super().__init__(generator)
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.std, self.mean, self.clip = float(std), float(mean), clip

    def apply_batch(self, x, rng):
        dt = float_dtype(x)
        out = x.astype(dt) + rng.normal(self.mean, self.std, size=x.shape).astype(dt)
        if self.clip is not None:
            np.clip(out, self.clip[0], self.clip[1], out=out)
        return out
