"""Caffe's DataTransformer: what ``transform_param`` does to each image of a Data layer.

For each (C, H, W) image: crop to ``crop_size`` (a random window in TRAIN, the centre in
TEST), mirror left-right with probability 1/2 when ``mirror`` is set (in both phases, as Caffe
does), then ``out = (pixel - mean) * scale`` with the mean from ``mean_file`` (a binaryproto
of the full image size, cropped at the same window) or ``mean_value`` (one value, or one per
channel).
"""
from typing import List, Optional, Tuple

import numpy as np

from .blob import read_binaryproto
from .errors import CaffeError
from .message import Msg


class DataTransformer:
    def __init__(self, param: Msg, phase: str, image_shape: Tuple[int, int, int],
                 layer: str = ""):
        self.phase, self.scale = phase, float(param.scale)
        self.mirror, self.crop = bool(param.mirror), int(param.crop_size)
        c, h, w = image_shape
        where = f"{param.where()}: layer '{layer}' transform_param"
        if self.crop and (self.crop > h or self.crop > w):
            raise CaffeError(f"{where}: crop_size {self.crop} is larger than the images "
                             f"({h}x{w})")
        self.mean: Optional[np.ndarray] = None
        if param.has("mean_file") and len(param.mean_value):
            raise CaffeError(f"{where}: give mean_file or mean_value, not both")
        if param.has("mean_file"):
            mean = read_binaryproto(param.mean_file).astype(np.float32)
            mean = mean.reshape(mean.shape[-3:]) if mean.ndim >= 3 else mean
            if mean.shape != (c, h, w):
                raise CaffeError(f"{where}: mean_file {param.mean_file} has shape "
                                 f"{mean.shape}, the images are {(c, h, w)}")
            self.mean = mean
        elif len(param.mean_value):
            mv = np.asarray(param.mean_value, np.float32)
            if mv.size not in (1, c):
                raise CaffeError(f"{where}: {mv.size} mean_value entries for {c}-channel "
                                 f"images (give 1 or {c})")
            self.mean = np.broadcast_to(mv.reshape(-1, 1, 1), (c, 1, 1)).copy()
        self.out_shape = (c, self.crop or h, self.crop or w)

    def __call__(self, images: List[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        n = len(images)
        c, oh, ow = self.out_shape
        if not self.crop and not self.mirror and all(i.shape == self.out_shape for i in images):
            out = np.stack(images).astype(np.float32)  # the common case, in one step
            if self.mean is not None:
                out -= self.mean
            if self.scale != 1.0:
                out *= np.float32(self.scale)
            return out
        out = np.empty((n, c, oh, ow), np.float32)
        for i, img in enumerate(images):
            if img.shape[0] != c or (not self.crop and img.shape[1:] != (oh, ow)):
                raise CaffeError(f"record of shape {img.shape} in a batch of "
                                 f"{self.out_shape} images (a Data layer needs one size)")
            h, w = img.shape[1:]
            if self.crop:
                if self.phase == "TRAIN":
                    y, x = rng.integers(0, h - oh + 1), rng.integers(0, w - ow + 1)
                else:
                    y, x = (h - oh) // 2, (w - ow) // 2
            else:
                y = x = 0
            v = img[:, y:y + oh, x:x + ow].astype(np.float32)
            if self.mean is not None:
                v -= self.mean if self.mean.shape[1] == 1 else \
                    self.mean[:, y:y + oh, x:x + ow]
            if self.mirror and rng.integers(0, 2):
                v = v[:, :, ::-1]
            out[i] = v
        if self.scale != 1.0:
            out *= np.float32(self.scale)
        return out
