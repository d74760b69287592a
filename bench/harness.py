"""Benchmark harness: time several contenders on the same task in one run, interleaved
(A, B, A, B, ...) so machine noise hits all alike, and report medians.

Run benchmarks by hand, never in tests. Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE,
which slow NumPy; run benchmarks with both unset for every contender:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_core.py
"""
import os
import platform
import statistics
import time


def interleaved(contenders, repeats=7, number=None, min_time=0.05):
    """Time each callable in ``contenders`` (name -> fn) ``repeats`` times, interleaved.

    Each sample runs the callable ``number`` times (chosen so one sample takes ~min_time when
    None) and records seconds per call. Returns name -> median seconds per call.
    """
    numbers = {}
    for name, fn in contenders.items():
        fn()  # warm up (allocations, caches, lazy imports)
        if number is None:
            n, t = 1, 0.0
            while True:
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                t = time.perf_counter() - t0
                if t >= min_time or n >= 1 << 20:
                    break
                n *= 2
            numbers[name] = n
        else:
            numbers[name] = number
    samples = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            n = numbers[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def machine_line():
    import numpy as np
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env = ", ".join(f"{k}={v}" for k, v in env.items() if v) or "OpenBLAS env vars unset"
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"NumPy {np.__version__}; {env}")


def fmt_us(s):
    return f"{s * 1e6:.2f} µs" if s < 1e-3 else f"{s * 1e3:.3f} ms"


def table(rows, header):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def jitted_readme_mlp():
    """The README MLP step (784-512-10, ReLU, RMSprop lr 1e-3, batch 128, float32, seed 0)
    under ``ember.jit``, traced once: returns ``(call, entry, (x, y))``: ``call()`` one step,
    ``entry`` the traced signature (``entry.fast`` its generated replay, None when the step
    runs on the graph executor) and the batch."""
    import numpy as np

    import ember
    from ember import nn
    from ember.nn import functional as F
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    y = ember.tensor(rng.integers(0, 10, 128))
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = ember.optim.RMSprop(m.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss
    f = ember.jit(step)
    f(x, y)
    return (lambda: f(x, y)), next(iter(f._compiled.values())), (x, y)
