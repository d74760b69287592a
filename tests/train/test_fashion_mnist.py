"""Acceptance on real data: the example recipes reach the textbook accuracies on Fashion-MNIST.

Runs the scripts in examples/ as a user would. Skips, with the reason, when Fashion-MNIST is not
installed (CI installs Debian's dataset-fashion-mnist).
"""
import os
import re
import subprocess
import sys

import pytest

from ember.data import DatasetNotFoundError, load_fashion_mnist

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    load_fashion_mnist()
    HAVE_DATA = True
except DatasetNotFoundError:
    HAVE_DATA = False

needs_data = pytest.mark.skipif(
    not HAVE_DATA, reason="Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or "
                          "set EMBER_DATA)")


def run_example(name, *args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), "--verbose", "2",
                          *args], capture_output=True, text=True, env=env, timeout=1500)
    assert out.returncode == 0, out.stderr
    acc = float(re.search(r"test accuracy: ([0-9.]+)", out.stdout).group(1))
    return acc, out.stdout


@needs_data
def test_textbook_mlp_reaches_086_in_5_epochs():
    acc, out = run_example("mlp_fashion_mnist.py")
    assert "Epoch 5/5" in out
    assert acc >= 0.86, out


@needs_data
def test_small_cnn_reaches_088_in_3_epochs():
    acc, out = run_example("cnn_fashion_mnist.py")
    assert "Epoch 3/3" in out
    assert acc >= 0.88, out


@needs_data
def test_keras_datasets_have_keras_shapes_and_dtypes():
    import numpy as np
    from ember.keras import datasets, utils
    (x, y), (xt, yt) = datasets.fashion_mnist.load_data()
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.uint8
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert sorted(np.unique(y)) == list(range(10))
    assert np.bincount(y).tolist() == [6000] * 10  # Fashion-MNIST is balanced
    oh = utils.to_categorical(y[:5])
    assert oh.shape == (5, 10) and oh.dtype == np.float32
    assert (oh.argmax(1) == y[:5]).all()
