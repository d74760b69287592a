"""Dataset converters that write what Caffe's tools write.

``convert_mnist``: IDX images + labels (MNIST, Fashion-MNIST; gzipped or not) to an LMDB of
Datum records (1 x rows x cols bytes, the label), keys ``%08d`` in file order, as Caffe's
``convert_mnist_data``. ``compute_image_mean``: the mean image of an LMDB as a binaryproto,
as Caffe's ``compute_image_mean``.
"""
import os

import numpy as np

from .blob import write_binaryproto
from .db import DatumDB, write_lmdb
from .errors import CaffeError


def convert_mnist(images_path, labels_path, db_path) -> int:
    from ..data.datasets.idx import read_idx
    for p in (images_path, labels_path):
        if not os.path.isfile(p):
            raise CaffeError(f"{p}: no such file")
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise CaffeError(f"{images_path}: expected IDX uint8 images (N, rows, cols), got "
                         f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise CaffeError(f"{labels_path}: {labels.shape} labels for {len(images)} images")
    return write_lmdb(db_path, images[:, None], labels)


def compute_image_mean(db_path, out_path) -> np.ndarray:
    db = DatumDB(db_path)
    total = None
    for _ in range(db.size):
        (img,), _ = db.read(1)
        total = img.astype(np.float64) if total is None else total + img
    mean = (total / db.size).astype(np.float32)
    write_binaryproto(out_path, mean[None])
    db.close()
    return mean
