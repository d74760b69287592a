import numpy as np
import pytest

import ember
import ember.nn as nn


@pytest.fixture(scope="session")
def fmnist():
    """3000 Fashion-MNIST training images (flat, scaled to [0, 1]) and labels, or a visible skip."""
    try:
        (xtr, ytr), _ = ember.data.load_fashion_mnist()
    except (FileNotFoundError, OSError) as e:
        pytest.skip(f"Fashion-MNIST not installed ({e}); apt install dataset-fashion-mnist")
    x = (xtr[:3000].reshape(-1, 784) / 255).astype(np.float32)
    return x, ytr[:3000].astype(np.int64)


def mlp():
    """The textbook MLP: 784-512-10 ReLU (softmax CE on its logits)."""
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))


def deep_net(act, std, depth=10, width=500, seed=0):
    """The lectures' experiment: ``depth`` layers of ``width`` units, no bias, N(0, std^2)."""
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(depth):
        lin = nn.Linear(width, width, bias=False)
        lin.weight.data[...] = rng.standard_normal((width, width)).astype(np.float32) * std
        layers += [lin, act()]
    return nn.Sequential(*layers)
