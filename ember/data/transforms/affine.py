"""RandomAffine and RandomRotation via inverse mapping + grid_sample.

Forward map about the image centre c (y axis down, positive angle = counter-clockwise
on screen):  p_out = s * R(theta) (p_in - c) + c + t.  We sample
p_in = R(-theta) (p_out - c - t) / s + c  for every output pixel.
"""
import numpy as np

from .base import Transform
from .sampling import grid_sample


def _range(value, name, symmetric_ok=True):
    if value is None:
        return None
    if np.isscalar(value):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 when a single number, got {value}")
        return (-float(value), float(value))
    lo, hi = (float(v) for v in value)
    if lo > hi:
        raise ValueError(f"{name} range must be (min, max), got {value}")
    return (lo, hi)


def affine_sample(x, angle, tx, ty, scale, mode, fill):
    """Apply per-sample rotation (degrees), translation (pixels) and scale to NCHW x."""
    n, _, h, w = x.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    th = np.deg2rad(angle)[:, None, None]
    cos, sin = np.cos(th), np.sin(th)
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    dx = (xx[None] - cx - tx[:, None, None]) / scale[:, None, None]
    dy = (yy[None] - cy - ty[:, None, None]) / scale[:, None, None]
    # inverse rotation R(-theta) in (x, y-down) coordinates
    xs = cos * dx - sin * dy + cx
    ys = sin * dx + cos * dy + cy
    return grid_sample(x, ys, xs, mode=mode, fill=fill)


class RandomAffine(Transform):
    """Random rotation (``degrees``), translation (``translate`` = max fraction of width,
    height) and zoom (``scale`` = (min, max)); empty areas get ``fill``."""

    def __init__(self, degrees, translate=None, scale=None, interpolation="bilinear", fill=0.0,
                 generator=None):
        super().__init__(generator)
        self.degrees = _range(degrees, "RandomAffine degrees")
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0 <= t <= 1 for t in translate):
                raise ValueError(f"RandomAffine: translate must be two fractions in [0, 1], got {translate}")
        self.translate = translate
        if scale is not None:
            scale = tuple(float(s) for s in scale)
            if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
                raise ValueError(f"RandomAffine: scale must be (min, max) with 0 < min <= max, got {scale}")
        self.scale = scale
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"RandomAffine: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.interpolation = interpolation
        self.fill = fill

    def apply_batch(self, x, rng):
        n, _, h, w = x.shape
        angle = rng.uniform(*self.degrees, size=n)
        if self.translate is not None:
            tx = rng.uniform(-1, 1, size=n) * self.translate[0] * w
            ty = rng.uniform(-1, 1, size=n) * self.translate[1] * h
        else:
            tx = ty = np.zeros(n)
        s = rng.uniform(*self.scale, size=n) if self.scale is not None else np.ones(n)
        out = affine_sample(x, angle, tx, ty, s, self.interpolation, self.fill)
        return out.astype(x.dtype) if x.dtype.kind != "f" and self.interpolation == "nearest" else out


class RandomRotation(RandomAffine):
    """Rotate by an angle drawn uniformly from ``degrees`` (d -> (-d, d))."""

    def __init__(self, degrees, interpolation="nearest", fill=0.0, generator=None):
        super().__init__(degrees, interpolation=interpolation, fill=fill, generator=generator)
