"""Conv2d and MaxPool2d forward+backward: ember vs PyTorch CPU, interleaved in one run.

    python bench/bench_conv.py [--repeats 30]

Each case runs ember and torch alternately (so machine load hits both alike) and reports the
median wall time of forward + backward (loss = sum of output * fixed random upstream grad).
Inputs are images (no input gradient needed for the first conv, as in training); the second
conv and the pool compute the input gradient (they sit inside a network).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ember  # noqa: E402
import ember.nn as nn  # noqa: E402


def cases():
    # (label, input shape, input needs grad, ember layer, torch layer factory)
    return [
        ("Conv2d 3->64 5x5, 64x3x32x32", (64, 3, 32, 32), False,
         lambda: nn.Conv2d(3, 64, 5), lambda t: t.nn.Conv2d(3, 64, 5)),
        ("Conv2d 32->64 5x5, 64x32x14x14", (64, 32, 14, 14), True,
         lambda: nn.Conv2d(32, 64, 5), lambda t: t.nn.Conv2d(32, 64, 5)),
        ("MaxPool2d 2x2, 64x64x28x28", (64, 64, 28, 28), True,
         lambda: nn.MaxPool2d(2), lambda t: t.nn.MaxPool2d(2)),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    import torch
    threads = torch.get_num_threads()
    rows = []
    for label, shape, needs_grad, make_e, make_t in cases():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape).astype(np.float32)
        em, tm = make_e(), make_t(torch)
        ex = ember.Tensor(x, requires_grad=needs_grad)
        tx = torch.tensor(x, requires_grad=needs_grad)
        out_shape = tm(tx).shape
        g = rng.standard_normal(tuple(out_shape)).astype(np.float32)
        eg, tg = ember.Tensor(g), torch.tensor(g)

        def run_e():
            em.zero_grad()
            ex.grad = None
            em(ex).backward(eg)

        def run_t():
            tm.zero_grad()
            tx.grad = None
            tm(tx).backward(tg)

        for _ in range(3):  # warm-up
            run_e(), run_t()
        te, tt = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            run_e()
            t1 = time.perf_counter()
            run_t()
            t2 = time.perf_counter()
            te.append(t1 - t0)
            tt.append(t2 - t1)
        me, mt = np.median(te) * 1e3, np.median(tt) * 1e3
        rows.append((label, me, mt, me / mt))
    print(f"forward+backward, median of {args.repeats} interleaved runs; numpy "
          f"{np.__version__}, torch {torch.__version__} ({threads} threads), "
          f"{os.cpu_count()} CPUs\n")
    print("| case | ember (ms) | PyTorch (ms) | ember / PyTorch |")
    print("|---|---:|---:|---:|")
    for label, me, mt, r in rows:
        print(f"| {label} | {me:.2f} | {mt:.2f} | {r:.2f}x |")


if __name__ == "__main__":
    main()
