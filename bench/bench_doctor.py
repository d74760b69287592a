"""Overhead of the training doctor on a textbook-MLP epoch (784-512-10 ReLU, RMSprop 1e-3,
batch 128, Fashion-MNIST or random data of the same shape).

    python bench/bench_doctor.py [--samples 12000] [--repeats 5]

Modes, interleaved in each repeat so machine load hits all alike; medians reported:
  baseline      plain loop
  doctor off    a Doctor exists (it watched a previous run, then detached); loop unchanged
  every=10      with doctor.watch(): doctor.step(loss) each step, statistics every 10 steps (default)
  every=1       statistics on every step
  anomaly       inside ember.diagnose.detect_anomaly(model) (NaN/Inf check after every op)
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ember  # noqa: E402
import ember.nn as nn  # noqa: E402
import ember.nn.functional as F  # noqa: E402
import ember.diagnose as dx  # noqa: E402
from ember import optim  # noqa: E402


def data(n):
    try:
        (x, y), _ = ember.data.load_fashion_mnist()
        return (x[:n].reshape(-1, 784) / 255).astype(np.float32), y[:n].astype(np.int64), "fashion-mnist"
    except (FileNotFoundError, OSError):
        rng = np.random.default_rng(0)
        return rng.random((n, 784), np.float32), rng.integers(0, 10, n), "random"


def epoch(net, opt, x, y, doctor=None):
    bs = 128
    t0 = time.perf_counter()
    for i in range(0, len(x), bs):
        loss = F.cross_entropy(net(ember.Tensor(x[i:i + bs])), ember.Tensor(y[i:i + bs]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if doctor is not None:
            doctor.step(loss)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=12000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    x, y, src = data(args.samples)
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = optim.RMSprop(net.parameters(), lr=1e-3)
    off = dx.Doctor(net, opt, verbose=False)
    with off.watch():
        epoch(net, opt, x[:1280], y[:1280], off)        # watched once, then detached
    times = {k: [] for k in ("baseline", "doctor off", "every=10", "every=1", "anomaly")}
    epoch(net, opt, x, y)                                 # warm-up
    for _ in range(args.repeats):
        times["baseline"].append(epoch(net, opt, x, y))
        times["doctor off"].append(epoch(net, opt, x, y))
        d10 = dx.Doctor(net, opt, every=10, verbose=False)
        with d10.watch():
            times["every=10"].append(epoch(net, opt, x, y, d10))
        d1 = dx.Doctor(net, opt, every=1, verbose=False)
        with d1.watch():
            times["every=1"].append(epoch(net, opt, x, y, d1))
        with dx.detect_anomaly(net):
            times["anomaly"].append(epoch(net, opt, x, y))
    base = statistics.median(times["baseline"])
    steps = -(-len(x) // 128)
    print(f"MLP 784-512-10, RMSprop, batch 128, {len(x)} {src} samples ({steps} steps/epoch), "
          f"{args.repeats} repeats, median epoch time")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"  {k:11s} {m:7.3f} s   {100 * (m / base - 1):+6.1f}%   "
              f"(min {min(v):.3f}, max {max(v):.3f})")


if __name__ == "__main__":
    main()
