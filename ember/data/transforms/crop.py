"""Cropping and resizing: CenterCrop, RandomCrop, Resize, RandomResizedCrop."""
import math
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import Transform
from .sampling import box_grid, grid_sample


def _pair(size, name):
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{name}: size must be a positive int or (height, width), got {size}")
    return size


def _padding4(padding, name):
    """(top, bottom, left, right) from int, (lr, tb) or (left, top, right, bottom) like torchvision."""
    if padding is None:
        return (0, 0, 0, 0)
    if isinstance(padding, (int, np.integer)):
        p = int(padding)
        return (p, p, p, p)
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        return (padding[1], padding[1], padding[0], padding[0])
    if len(padding) == 4:
        left, top, right, bottom = padding
        return (top, bottom, left, right)
    raise ValueError(f"{name}: padding must be an int, 2 or 4 ints, got {padding}")


def _crop_at(x, top, left, h, w):
    """Per-sample crops of size (h, w) at offsets ``top[n], left[n]`` -- one gather, no loop."""
    windows = sliding_window_view(x, (h, w), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w)
    return np.ascontiguousarray(windows[np.arange(len(x)), :, top, left])


class CenterCrop(Transform):
    """Crop the central ``size`` region (pads with zeros if the image is smaller)."""

    def __init__(self, size):
        super().__init__()
        self.size = _pair(size, "CenterCrop")

    def apply_batch(self, x, rng):
        h, w = self.size
        ph, pw = max(h - x.shape[2], 0), max(w - x.shape[3], 0)
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
        top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
        return x[:, :, top:top + h, left:left + w].copy()


class RandomCrop(Transform):
    """Pad by ``padding`` (constant ``fill`` or 'reflect'/'edge'), then crop ``size`` at a
    uniformly random position, independently per image."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant",
                 generator=None):
        super().__init__(generator)
        self.size = _pair(size, "RandomCrop")
        self.padding = _padding4(padding, "RandomCrop")
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: unknown padding_mode {padding_mode!r}")
        self.padding_mode = padding_mode

    def _pad(self, x, top, bottom, left, right):
        if not (top or bottom or left or right):
            return x
        widths = ((0, 0), (0, 0), (top, bottom), (left, right))
        if self.padding_mode == "constant":
            return np.pad(x, widths, mode="constant", constant_values=self.fill)
        return np.pad(x, widths, mode=self.padding_mode)

    def apply_batch(self, x, rng):
        h, w = self.size
        x = self._pad(x, *self.padding)
        if self.pad_if_needed:
            dh, dw = max(h - x.shape[2], 0), max(w - x.shape[3], 0)
            x = self._pad(x, dh // 2, dh - dh // 2, dw // 2, dw - dw // 2)
        H, W = x.shape[2:]
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop size {(h, w)} larger than the (padded) image {(H, W)}")
        top = rng.integers(0, H - h + 1, size=len(x))
        left = rng.integers(0, W - w + 1, size=len(x))
        return _crop_at(x, top, left, h, w)


class Resize(Transform):
    """Resize to ``size`` = (height, width) with bilinear or nearest sampling."""

    def __init__(self, size, interpolation="bilinear"):
        super().__init__()
        self.size = _pair(size, "Resize")
        self.interpolation = interpolation

    def apply_batch(self, x, rng):
        n, _, H, W = x.shape
        ones = np.ones(n)
        ys, xs = box_grid(0 * ones, 0 * ones, H * ones, W * ones, *self.size)
        return grid_sample(x, ys, xs, mode=self.interpolation, padding="border")


class RandomResizedCrop(Transform):
    """Crop a random box of area fraction ``scale`` and aspect ratio ``ratio`` (w/h,
    log-uniform), resize it to ``size``. Falls back to the whole image if 10 tries miss."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation="bilinear",
                 generator=None):
        super().__init__(generator)
        self.size = _pair(size, "RandomResizedCrop")
        if not (0 < scale[0] <= scale[1]) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"RandomResizedCrop: need 0 < scale[0] <= scale[1] and 0 < ratio[0] <= ratio[1], "
                             f"got scale={scale}, ratio={ratio}")
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.interpolation = interpolation

    def sample_boxes(self, n, H, W, rng, tries=10):
        """(top, left, height, width) integer arrays of length n."""
        area = H * W * rng.uniform(self.scale[0], self.scale[1], size=(n, tries))
        aspect = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), size=(n, tries)))
        w = np.round(np.sqrt(area * aspect)).astype(np.int64)
        h = np.round(np.sqrt(area / aspect)).astype(np.int64)
        ok = (w >= 1) & (h >= 1) & (w <= W) & (h <= H)
        first = np.argmax(ok, axis=1)
        found = ok[np.arange(n), first]
        h = np.where(found, h[np.arange(n), first], H)
        w = np.where(found, w[np.arange(n), first], W)
        top = np.floor(rng.random(n) * (H - h + 1)).astype(np.int64)
        left = np.floor(rng.random(n) * (W - w + 1)).astype(np.int64)
        return top, left, h, w

    def apply_batch(self, x, rng):
        n, _, H, W = x.shape
        top, left, h, w = self.sample_boxes(n, H, W, rng)
        ys, xs = box_grid(top.astype(float), left.astype(float), h.astype(float), w.astype(float), *self.size)
        return grid_sample(x, ys, xs, mode=self.interpolation, padding="border")


class RandomSizedCrop(RandomResizedCrop):
    """torchvision's old name of :class:`RandomResizedCrop` (deprecated there since 0.2, kept so
    older listings run); warns with a DeprecationWarning."""

    def __init__(self, *args, **kwargs):
        warnings.warn("RandomSizedCrop is deprecated (as in torchvision): use RandomResizedCrop",
                      DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)
