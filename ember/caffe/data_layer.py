"""Caffe's ``Data`` layer: batches from an LMDB of Datum records, transformed by
``transform_param``; tops ``data`` (N, C, H, W) float32 and, when asked, ``label`` (N,)."""
import numpy as np

from .db import DatumDB
from .errors import CaffeError
from .layers import LAYERS, Layer
from .transform import DataTransformer


class Data(Layer):
    type_name, param_field = "Data", "data_param"
    n_bottoms, n_tops = (0, 0), (1, 2)

    def setup(self, shapes, rng):
        p = self.p
        where = f"{self.where()}: data_param"
        if not p.has("source") or not p.source:
            raise CaffeError(f"{where}: source (the database path) is required")
        if p.backend != "LMDB":
            raise CaffeError(f"{where}: backend {p.backend} is not supported; ember reads "
                             f"LMDB (set 'backend: LMDB')")
        if not p.has("batch_size") or p.batch_size < 1:
            raise CaffeError(f"{where}: batch_size >= 1 is required")
        for old in ("scale", "mean_file", "crop_size", "mirror"):
            if p.has(old):
                raise CaffeError(f"{p.where(old)}: data_param {old} is deprecated in Caffe; "
                                 f"move it to transform_param")
        tp = self.lp.transform_param
        self.db = DatumDB(p.source, tp.force_color, tp.force_gray)
        img, _ = self.db.peek()
        self.batch_size = int(p.batch_size)
        self.transformer = DataTransformer(tp, self.phase, tuple(img.shape), self.name)
        if p.rand_skip:
            self.db.seek(int(rng.integers(0, p.rand_skip)))
        self.shapes = [(self.batch_size,) + self.transformer.out_shape]
        if len(self.lp.top) == 2:
            self.shapes.append((self.batch_size,))

    def top_shapes(self):
        return self.shapes

    def next_batch(self, rng):
        from ..tensor import Tensor
        images, labels = self.db.read(self.batch_size)
        x = Tensor(self.transformer(images, rng))
        if len(self.lp.top) == 2:
            return x, Tensor(labels)
        return (x,)

    @property
    def records_per_batch(self) -> int:
        return self.batch_size


LAYERS["Data"] = Data
