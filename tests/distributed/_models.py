"""Models, data and the reference loop shared by the mpirun workers and the tests."""
import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F

STEPS, GLOBAL_BATCH = 50, 128


def mlp():
    ember.manual_seed(1)
    return nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 5))


def cnn(sync=False):
    ember.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    return nn.SyncBatchNorm.convert_sync_batchnorm(net) if sync else net


def data(kind):
    rng = np.random.default_rng(3)
    n = 512
    x = rng.standard_normal((n, 20) if kind == "mlp" else (n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 5, n)
    return x, y


def batches(kind):
    """The global batches of the 50 steps: a fixed random order, 128 samples each."""
    x, y = data(kind)
    order = np.random.default_rng(4).permutation(np.tile(np.arange(len(x)), 13))
    for k in range(STEPS):
        idx = order[k * GLOBAL_BATCH:(k + 1) * GLOBAL_BATCH]
        yield x[idx], y[idx]


def train(model, kind, rank=0, world=1):
    """50 SGD steps; rank r of world W takes rows r, r+W, ... of each global batch."""
    # not lr 0.1 with momentum 0.9: that is chaotic for the CNN (merely reordering the rows of
    # each batch moves its weights by 3e-2 after 50 steps), so no tolerance could hold
    opt = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
    for xb, yb in batches(kind):
        xb, yb = xb[rank::world], yb[rank::world]
        loss = F.cross_entropy(model(ember.tensor(xb)), ember.tensor(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def state(module):
    return {k: v.data.copy() for k, v in module.state_dict().items()}


def fit_data():
    """Arrays for the fit checks: 512 training samples (4 global batches of 128 per epoch)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((640, 20)).astype(np.float32)
    y = (x[:, :5].argmax(1) + (x[:, 5] > 1)) % 5
    return (x[:512], y[:512]), (x[512:], y[512:])


def fit_model():
    model = ember.Model(mlp())
    model.compile(optimizer=ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.5),
                  loss="cross_entropy", metrics=["accuracy"])
    return model
