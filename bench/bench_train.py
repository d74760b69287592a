"""Training speed on Fashion-MNIST-shaped data: ember vs PyTorch CPU, one run, interleaved.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_train.py

1. The textbook MLP (784-512-10, ReLU, softmax cross-entropy, RMSprop 1e-3, batch 128):
   seconds per epoch of 60,000 images. ember runs ``Model.fit`` (progress off); PyTorch a
   hand-written loop over a DataLoader of tensors (its usual idiom).
2. The small CNN of examples/cnn_fashion_mnist.py (conv 32 3x3 -> pool -> conv 64 3x3 -> pool ->
   dense 64 -> 10, Adam 1e-3, batch 64): images per second over a slice of an epoch.
3. Data loading alone (ember DataLoader, shuffled, batch 128) as a share of the MLP epoch.

Random inputs of the real shapes are used so the benchmark needs no data files; the arithmetic is
the same as on the real images.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ember  # noqa: E402
from bench.harness import machine_line, table  # noqa: E402

try:
    import torch
    torch.set_num_threads(os.cpu_count())
except ImportError:  # pragma: no cover
    torch = None

rng = np.random.default_rng(0)
N = 60000
X = rng.random((N, 784), dtype=np.float32)
Y = rng.integers(0, 10, N)


def ember_mlp_epoch():
    from ember.keras import layers, models
    m = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                           layers.Dense(10)])
    m.compile(optimizer=ember.optim.RMSprop(m.parameters(), lr=1e-3), loss="cross_entropy")
    t = time.perf_counter()
    m.fit(X, Y, batch_size=128, epochs=1, verbose=0)
    return time.perf_counter() - t


def torch_mlp_epoch():
    m = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    opt = torch.optim.RMSprop(m.parameters(), lr=1e-3)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True)
    t = time.perf_counter()
    for xb, yb in loader:
        loss = torch.nn.functional.cross_entropy(m(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def ember_loader_epoch():
    loader = ember.data.DataLoader(ember.data.TensorDataset(X, Y), batch_size=128, shuffle=True)
    t = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t


NC = 64 * 40  # images per CNN timing run
XC = rng.random((NC, 28, 28, 1), dtype=np.float32)
YC = rng.integers(0, 10, NC)


def ember_cnn():
    from ember.keras import layers, models, optimizers
    m = models.Sequential([
        layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2)), layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(64, activation="relu"),
        layers.Dense(10)])
    m.compile(optimizer=optimizers.Adam(learning_rate=1e-3), loss="cross_entropy")
    t = time.perf_counter()
    m.fit(XC, YC, batch_size=64, epochs=1, verbose=0)
    return NC / (time.perf_counter() - t)


def torch_cnn():
    nn = torch.nn
    m = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(),
                      nn.Linear(64, 10))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(XC.transpose(0, 3, 1, 2).copy()),
                                        torch.from_numpy(YC))
    t = time.perf_counter()
    for xb, yb in torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True):
        loss = torch.nn.functional.cross_entropy(m(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return NC / (time.perf_counter() - t)


def median_interleaved(fns, repeats):
    res = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            res[k].append(f())
    return {k: float(np.median(v)) for k, v in res.items()}


if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(machine_line())
    if torch is not None:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    mlp = {"ember Model.fit": ember_mlp_epoch, "ember DataLoader alone": ember_loader_epoch}
    cnn = {"ember Model.fit": ember_cnn}
    if torch is not None:
        mlp["PyTorch loop"] = torch_mlp_epoch
        cnn["PyTorch loop"] = torch_cnn
    r = median_interleaved(mlp, repeats)
    share = r["ember DataLoader alone"] / r["ember Model.fit"]
    print()
    print(table([[k, f"{v:.2f} s"] for k, v in r.items()],
                [f"MLP epoch (60k images, batch 128), median of {repeats}", "s/epoch"]))
    print(f"\ndata loading share of the ember epoch: {share:.1%}")
    r = median_interleaved(cnn, repeats)
    print()
    print(table([[k, f"{v:.0f}"] for k, v in r.items()],
                [f"small CNN (batch 64, {NC} images), median of {repeats}", "images/s"]))
