"""RandomErasing (cutout-style occlusion of a random rectangle)."""
import math

import numpy as np

from .base import Transform, float_dtype


class RandomErasing(Transform):
    """With probability ``p`` replace a random rectangle covering ``scale`` of the area,
    aspect ratio ``ratio`` (h/w, log-uniform), by ``value``: a number, one value per
    channel, or 'random' (standard normal noise). Meant for float CHW/NCHW images."""

    keeps_dtype = False
    tensor_only = True

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0, generator=None):
        super().__init__(generator)
        if not 0 <= p <= 1:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        if not (0 < scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"RandomErasing: bad scale {scale} or ratio {ratio}")
        self.p, self.scale, self.ratio, self.value = p, tuple(scale), tuple(ratio), value

    def apply_batch(self, x, rng, tries=10):
        n, c, H, W = x.shape
        area = H * W * rng.uniform(*self.scale, size=(n, tries))
        aspect = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), size=(n, tries)))
        h = np.round(np.sqrt(area * aspect)).astype(np.int64)
        w = np.round(np.sqrt(area / aspect)).astype(np.int64)
        ok = (h >= 1) & (w >= 1) & (h <= H) & (w <= W)
        first = np.argmax(ok, axis=1)
        rows = np.arange(n)
        erase = ok[rows, first] & (rng.random(n) < self.p)
        h, w = h[rows, first], w[rows, first]
        top = np.floor(rng.random(n) * (H - np.minimum(h, H) + 1)).astype(np.int64)
        left = np.floor(rng.random(n) * (W - np.minimum(w, W) + 1)).astype(np.int64)
        ii, jj = np.arange(H), np.arange(W)
        in_rows = (ii[None] >= top[:, None]) & (ii[None] < (top + h)[:, None])
        in_cols = (jj[None] >= left[:, None]) & (jj[None] < (left + w)[:, None])
        mask = (in_rows[:, :, None] & in_cols[:, None, :] & erase[:, None, None])[:, None]
        dt = float_dtype(x)
        if isinstance(self.value, str):
            if self.value != "random":
                raise ValueError(f"RandomErasing: value must be a number, a per-channel sequence or 'random', got {self.value!r}")
            fill = rng.standard_normal(x.shape).astype(dt)
        else:
            fill = np.asarray(self.value, dtype=dt).reshape(-1)
            if fill.size not in (1, c):
                raise ValueError(f"RandomErasing: {fill.size} fill values for {c} channels")
            fill = fill.reshape(1, -1, 1, 1)
        return np.where(mask, fill, x.astype(dt, copy=False))
