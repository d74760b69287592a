"""Optimizer step time: ember vs PyTorch (CPU), on the textbook MLP's parameter shapes.

Shapes 784x512, 512, 512x10, 10 (407,050 float32 parameters), fixed random gradients; one
``opt.step()`` is timed (no forward/backward). Contenders run interleaved (round robin, short
blocks) so drifts in machine load hit all of them alike; medians over all timed steps.

PyTorch runs its default implementation (on CPU tensors that is the per-tensor loop), with
``foreach=True`` (the multi-tensor kernels), and with one intra-op thread (ember's NumPy ufuncs
are single-threaded; on a busy machine torch's parallel regions can stall for whole scheduler
ticks, which the 1-thread column shows without).

Run with the OpenBLAS overrides unset, for all contenders::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_optim.py

Prints a markdown table (microseconds per step; lower is better).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ember  # noqa: E402
from ember import optim  # noqa: E402

SHAPES = [(784, 512), (512,), (512, 10), (10,)]
CONFIGS = [
    ("SGD momentum=0.9", "SGD", dict(lr=1e-2, momentum=0.9)),
    ("RMSprop", "RMSprop", dict(lr=1e-3)),
    ("Adam", "Adam", dict(lr=1e-3)),
]


def make_ember(name, kw, grads):
    ps = []
    for g in grads:
        p = ember.tensor(np.random.default_rng(0).standard_normal(g.shape).astype(np.float32),
                         requires_grad=True)
        p.grad = ember.Tensor(g.copy())
        ps.append(p)
    return getattr(optim, name)(ps, **kw).step


def make_torch(torch, name, kw, grads, foreach):
    ps = []
    for g in grads:
        p = torch.tensor(np.random.default_rng(0).standard_normal(g.shape).astype(np.float32),
                         requires_grad=True)
        p.grad = torch.from_numpy(g.copy())
        ps.append(p)
    return getattr(torch.optim, name)(ps, foreach=foreach, **kw).step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--block", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    grads = [(rng.standard_normal(s) * 1e-2).astype(np.float32) for s in SHAPES]
    assert sum(g.size for g in grads) == 407_050
    try:
        import torch
    except ImportError:
        torch = None
    nthreads = torch.get_num_threads() if torch is not None else None
    rows = []
    for label, name, kw in CONFIGS:
        # name -> (step function, torch threads to set before its block)
        steps = {"ember": (make_ember(name, kw, grads), None)}
        if torch is not None:
            steps["torch (default)"] = (make_torch(torch, name, kw, grads, None), nthreads)
            steps["torch foreach"] = (make_torch(torch, name, kw, grads, True), nthreads)
            steps["torch 1 thread"] = (make_torch(torch, name, kw, grads, None), 1)
        times = {k: [] for k in steps}
        for f, nt in steps.values():  # warm-up: state allocation, caches
            if nt is not None:
                torch.set_num_threads(nt)
            for _ in range(5):
                f()
        for _ in range(args.rounds):
            for k, (f, nt) in steps.items():
                if nt is not None:
                    torch.set_num_threads(nt)
                for _ in range(args.block):
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
        rows.append((label, {k: 1e6 * float(np.median(v)) for k, v in times.items()}))
    cols = list(rows[0][1])
    print(f"Optimizer step, 407,050 float32 params (MLP 784-512-10), median us/step; "
          f"{args.rounds * args.block} steps each, interleaved. numpy {np.__version__}"
          + (f", torch {torch.__version__} ({nthreads} threads by default)" if torch else ""))
    print()
    print("| optimizer | " + " | ".join(cols) + (" | ember / torch default |" if torch else " |"))
    print("|---" * (len(cols) + 1 + (1 if torch else 0)) + "|")
    for label, r in rows:
        cells = " | ".join(f"{r[c]:.0f}" for c in cols)
        ratio = f" | {r['ember'] / r['torch (default)']:.2f} |" if torch else " |"
        print(f"| {label} | {cells}{ratio}")


if __name__ == "__main__":
    main()
