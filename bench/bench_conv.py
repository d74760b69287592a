"""Conv2d and MaxPool2d forward+backward: ember vs PyTorch CPU, interleaved in one run.

    python bench/bench_conv.py [--repeats 30] [--forward]

Each case runs ember and torch alternately (so machine load hits both alike) and reports the
median wall time of forward + backward (loss = sum of output * fixed random upstream grad), or
of the forward alone under no_grad with ``--forward`` (what predict runs). Inputs are images (no
input gradient needed for a first conv, as in training); the inner convs and the pool compute
the input gradient (they sit inside a network) and, for ember, get their input channels-last,
as an earlier conv layer hands it over. The "seed" cases are the seed CNN's two convolutions at
batch 100. EMBER_CONV_THREADS=1 turns ember's batch-parallel passes off for comparison.
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
        ("seed conv1 1->32 5x5 pad 2, 100x1x28x28", (100, 1, 28, 28), False,
         lambda: nn.Conv2d(1, 32, 5, padding=2), lambda t: t.nn.Conv2d(1, 32, 5, padding=2)),
        ("seed conv2 32->64 5x5 pad 2, 100x32x14x14", (100, 32, 14, 14), True,
         lambda: nn.Conv2d(32, 64, 5, padding=2), lambda t: t.nn.Conv2d(32, 64, 5, padding=2)),
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
    ap.add_argument("--forward", action="store_true", help="time the forward alone (no_grad)")
    args = ap.parse_args()
    import torch
    threads = torch.get_num_threads()
    rows = []
    for label, shape, needs_grad, make_e, make_t in cases():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape).astype(np.float32)
        em, tm = make_e(), make_t(torch)
        xe = x
        if needs_grad:  # an inner layer: its input comes channels-last from the layer before
            xe = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        ex = ember.Tensor(xe, requires_grad=needs_grad)
        tx = torch.tensor(x, requires_grad=needs_grad)
        out_shape = tm(tx).shape
        g = rng.standard_normal(tuple(out_shape)).astype(np.float32)
        eg, tg = ember.Tensor(g), torch.tensor(g)

        def run_e():
            if args.forward:
                with ember.no_grad():
                    return em(ex)
            em.zero_grad()
            ex.grad = None
            em(ex).backward(eg)

        def run_t():
            if args.forward:
                with torch.no_grad():
                    return tm(tx)
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
    what = "forward (no_grad)" if args.forward else "forward+backward"
    print(f"{what}, median of {args.repeats} interleaved runs; numpy "
          f"{np.__version__}, torch {torch.__version__} ({threads} threads), "
          f"{os.cpu_count()} CPUs\n")
    print("| case | ember (ms) | PyTorch (ms) | ember / PyTorch |")
    print("|---|---:|---:|---:|")
    for label, me, mt, r in rows:
        print(f"| {label} | {me:.2f} | {mt:.2f} | {r:.2f}x |")


if __name__ == "__main__":
    main()
