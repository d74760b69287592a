import os

import numpy as np
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long end-to-end run (deselect with -m 'not slow')")


@pytest.fixture
def lmdb_mod():
    return pytest.importorskip("lmdb", reason="the Caffe Data layer needs lmdb "
                                              "(pip install -e .[caffe])")


def make_db(path, n=64, shape=(1, 8, 8), classes=4, seed=0):
    """A small LMDB of Datum records whose class is readable from the image (a bright band)."""
    from ember.caffe.db import write_lmdb
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    images = rng.integers(0, 60, (n,) + shape).astype(np.uint8)
    band = shape[1] // classes
    for i, y in enumerate(labels):
        images[i, :, y * band:(y + 1) * band, :] += 150
    write_lmdb(os.fspath(path), images, labels)
    return images, labels
