"""Random horizontal / vertical flips (independent coin per image)."""
import numpy as np

from .base import Transform


class RandomHorizontalFlip(Transform):
    """Mirror left-right with probability ``p``."""

    axis = 3  # W in NCHW

    def __init__(self, p=0.5, generator=None):
        super().__init__(generator)
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = p

    def apply_batch(self, x, rng):
        flip = rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = np.flip(x[flip], axis=self.axis)
        return out


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    axis = 2  # H in NCHW
