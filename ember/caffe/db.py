"""Caffe's LMDB databases of ``Datum`` records, through the optional ``lmdb`` package.

Caffe's Data layer reads records in key order and wraps around at the end; ``DatumDB`` does
the same, keeps its cursor as a record count (so a resumed run continues where it was) and
decodes a batch at a time.
"""
import os
from typing import List, Tuple

import numpy as np

from .blob import decode_datum, encode_datum
from .errors import CaffeError


_ENVS = {}  # one open environment per database file: py-lmdb refuses a second open of one


def _open_env(path):
    lmdb = _lmdb()
    st = os.stat(os.path.join(path, "data.mdb"))
    key = (os.path.realpath(path), st.st_ino, st.st_mtime_ns)
    env = _ENVS.get(key)
    if env is None:
        env = lmdb.open(path, readonly=True, lock=False, readahead=False, max_readers=64)
        _ENVS[key] = env
    return env


def _lmdb():
    try:
        import lmdb
    except ImportError:
        raise CaffeError("Caffe LMDB databases need the optional 'lmdb' package: "
                         "pip install 'ember[caffe]'") from None
    return lmdb


class DatumDB:
    """Sequential reader of an LMDB of Datum records (wrapping around at the end)."""

    def __init__(self, path, force_color: bool = False, force_gray: bool = False):
        self.path = str(path)
        if not os.path.isdir(self.path) or not os.path.exists(os.path.join(self.path,
                                                                           "data.mdb")):
            raise CaffeError(f"{self.path}: no LMDB database here (expected a folder with "
                             f"data.mdb; paths are relative to the working directory "
                             f"{os.getcwd()}, as in Caffe)")
        self.env = _open_env(self.path)
        self.size = self.env.stat()["entries"]
        if self.size == 0:
            raise CaffeError(f"{self.path}: the LMDB database is empty")
        self.force_color, self.force_gray = force_color, force_gray
        self.position = 0
        self._txn = self.env.begin(buffers=False)
        self._cursor = self._txn.cursor()
        self._cursor.first()

    def seek(self, position: int) -> None:
        """Move to record ``position`` (mod size), as if that many had been read."""
        self.position = int(position) % self.size
        self._cursor.first()
        for _ in range(self.position):
            self._cursor.next()

    def _next_raw(self):
        raw = self._cursor.value()
        self.position += 1
        if self.position == self.size or not self._cursor.next():
            self.position = 0
            self._cursor.first()
        return raw

    def peek(self) -> Tuple[np.ndarray, int]:
        """The first record (its shape sets up the net), without moving the cursor."""
        with self.env.begin() as txn:
            c = txn.cursor()
            c.first()
            return decode_datum(c.value(), self.path, self.force_color, self.force_gray)

    def read(self, n: int) -> Tuple[List[np.ndarray], np.ndarray]:
        images, labels = [], np.empty(n, np.int64)
        for i in range(n):
            img, labels[i] = decode_datum(self._next_raw(), self.path, self.force_color,
                                          self.force_gray)
            images.append(img)
        return images, labels

    def close(self):
        self._cursor.close()
        self._txn.abort()


def write_lmdb(path, images, labels, commit_every: int = 1000) -> int:
    """Write Datum records with keys ``%08d`` (as Caffe's convert_mnist_data); returns the
    record count. The folder is created; an existing database there is an error."""
    lmdb = _lmdb()
    path = str(path)
    if os.path.exists(os.path.join(path, "data.mdb")):
        raise CaffeError(f"{path}: an LMDB database already exists here (Caffe's converter "
                         f"refuses to overwrite one too); remove it first")
    n = len(images)
    if len(labels) != n:
        raise CaffeError(f"{n} images but {len(labels)} labels")
    per = int(np.prod(np.asarray(images[0]).shape)) if n else 0
    # no fsync per commit (one sync at the end): the database is written once, then read
    env = lmdb.open(path, map_size=max(1 << 24, 4 * n * (per + 64)), subdir=True, sync=False)
    try:
        txn = env.begin(write=True)
        for i in range(n):
            txn.put(b"%08d" % i, encode_datum(images[i], int(labels[i])))
            if (i + 1) % commit_every == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.commit()
        env.sync(True)
    finally:
        env.close()
    return n
