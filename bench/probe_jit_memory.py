"""Why the jitted README MLP step sits above its GEMM floor: three probes, run by hand.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/probe_jit_memory.py \
        [--steps 300] [--rounds 3] [--only update|rest|split ...]

``update``: inside the jitted step (784-512-10, ReLU, RMSprop, batch 128), the one-pass RMSprop
update of the 512x784 weight timed as the step runs it, then the same kernel again at once on
the same arrays (its data now in cache), then the first pass again with OpenBLAS's spinning
workers put to rest just before it (``ember.kernels.blas_rest``). The second pass is the
kernel's cost on cached data; the gap to the first is where the data was (memory, the other
core's cache) and what ran beside it. The extra pass changes the training, which does not
matter here: only times are read.

``rest``: the whole jitted step, and the same step resting OpenBLAS's workers before that
update (so the pass runs with no spinning thread beside it, and the next GEMM starts the
workers again), against the GEMM floor of ``bench_graph.py``, interleaved.

``layout``: the step by hand on ember's kernels with the first weight stored (out, in) in
memory as ``nn.Linear`` has it, and (in, out) as the GEMM floor has it (its gradient is then
the floor's product), against the floor, interleaved.

``split``: a prototype, not ember code: the same step by hand on ember's numba kernels, once on
OpenBLAS's two threads, and once on two threads of its own with OpenBLAS at one thread, each
thread owning half of the hidden units (its slice of the first GEMM, bias + ReLU, ReLU
backward, its rows of the weight gradient and their RMSprop update). The split runs in a
process of its own (``OPENBLAS_NUM_THREADS=1``): where OpenBLAS's workers have run, they spin
for ~0.1 s after each call and take the second core from the split's thread. Its results are
not bit-identical to the eager step's (OpenBLAS's floats depend on its partition).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import _thread

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pc = time.perf_counter


def interleaved(cases, k):
    """Round-robin over the callables, ``k`` calls each (order reversed every other round);
    medians in µs."""
    names = list(cases)
    for _ in range(20):
        for n in names:
            cases[n]()
    ts = {n: [] for n in names}
    for i in range(k):
        for n in (names if i % 2 == 0 else names[::-1]):
            f = cases[n]
            t0 = pc()
            f()
            ts[n].append(pc() - t0)
    return {n: statistics.median(v) * 1e6 for n, v in ts.items()}


def jitted_step(on_big_update=None):
    """The README MLP step under ``ember.jit``; ``on_big_update(kernel, w, g, s, args)`` runs
    in place of the 512x784 weight's RMSprop kernel when given."""
    from bench.harness import jitted_readme_mlp
    call, entry, _ = jitted_readme_mlp()
    if entry.fast is None:
        sys.exit("the step has no generated replay (numba missing?)")
    if on_big_update is not None:
        ns = entry.fast.__globals__
        kernels = ns["KF0"]

        class Hooked:
            def __getattr__(self, name):
                return getattr(kernels, name)

            def rmsprop2(self, w, g, s, *a):
                if w.size > 100000:
                    on_big_update(kernels.rmsprop2, w, g, s, a)
                else:
                    kernels.rmsprop2(w, g, s, *a)
        ns["KF0"] = Hooked()
    return call


def probe_update(a):
    from ember.kernels.blas_rest import rest_openblas_workers
    rec, mode = [], ["plain"]

    def timed(kernel, w, g, s, args):
        if mode[0] == "rest":
            rest_openblas_workers(0)
        t0 = pc()
        kernel(w, g, s, *args)
        t1 = pc()
        kernel(w, g, s, *args)
        rec.append((t1 - t0, pc() - t1))
    step = jitted_step(timed)
    print("\n512x784 RMSprop update inside the jitted step, µs (median of "
          f"{a.steps} steps per cell)")
    print("| round | first pass | same pass again | first pass, OpenBLAS workers rested |")
    print("|---:|---:|---:|---:|")
    for r in range(a.rounds):
        cells = []
        for mode[0] in ("plain", "rest"):
            rec.clear()
            for _ in range(a.steps):
                step()
            cells.append((statistics.median(t for t, _ in rec) * 1e6,
                          statistics.median(t for _, t in rec) * 1e6))
        print(f"| {r + 1} | {cells[0][0]:.0f} | {cells[0][1]:.0f} | {cells[1][0]:.0f} |")


def probe_rest(a):
    from bench.bench_graph import _floor
    from ember.kernels.blas_rest import rest_openblas_workers

    def rested(kernel, w, g, s, args):
        rest_openblas_workers(0)
        kernel(w, g, s, *args)
    cases = {"jit step": jitted_step(), "jit step, workers rested before the update":
             jitted_step(rested), "GEMM floor": _floor(np.random.default_rng(0))}
    print(f"\nwhole step, µs (interleaved, median of {a.steps} per cell)")
    print("| round | " + " | ".join(cases) + " |\n|---:|" + "---:|" * len(cases))
    for r in range(a.rounds):
        med = interleaved(cases, a.steps)
        print(f"| {r + 1} | " + " | ".join(f"{med[n]:.0f}" for n in cases) + " |")


def hand_step(split, in_out=False):
    """The MLP step by hand on ember's numba kernels; ``split``: on two threads of its own,
    each owning half of the hidden units (call with OpenBLAS at one thread); ``in_out``: the
    first weight stored as the GEMM floor has it, (in, out) in memory (a Fortran-ordered
    (out, in) array), so its gradient is the floor's product ``x.T @ g``."""
    from ember.graph import _numba_fused as K
    rng = np.random.default_rng(0)
    f32 = np.float32
    xa = rng.standard_normal((128, 784)).astype(f32)
    ya = rng.integers(0, 10, 128)
    w1 = (rng.standard_normal((512, 784)) * 0.035).astype(f32)
    if in_out:
        w1 = np.asfortranarray(w1)
    w2 = (rng.standard_normal((10, 512)) * 0.044).astype(f32)
    b1, b2 = np.zeros(512, f32), np.zeros(10, f32)
    s1, sb1, s2, sb2 = (np.zeros_like(v) for v in (w1, b1, w2, b2))  # w1's layout kept
    hp = (f32(0.99), f32(0.01), f32(1e-8), f32(-1e-3))
    h, z = np.empty((128, 512), f32), np.empty((128, 10), f32)
    gh, gb1, gw1 = np.empty((128, 512), f32), np.empty(512, f32), np.empty_like(w1)
    rows = np.arange(128)

    def forward(lo, hi):
        np.matmul(xa, w1[lo:hi].T, out=h[:, lo:hi])
        K.bias_relu(h[:, lo:hi], b1[lo:hi])

    def loss_grad():
        np.matmul(h, w2.T, out=z)
        np.add(z, b2, out=z)
        np.subtract(z, z.max(axis=1, keepdims=True), out=z)
        e = np.exp(z)
        e /= e.sum(axis=1, keepdims=True)
        e[rows, ya] -= 1
        e *= f32(1 / 128)
        return e

    def backward(lo, hi, e):
        np.matmul(e, w2[:, lo:hi], out=gh[:, lo:hi])
        K.relu_grad_colsum(gh[:, lo:hi], h[:, lo:hi], gb1[lo:hi])
        if in_out:  # the floor's product, into the (in, out) memory of gw1's rows
            np.matmul(xa.T, gh[:, lo:hi], out=gw1[lo:hi].T)
            K.rmsprop2(w1[lo:hi].T, gw1[lo:hi].T, s1[lo:hi].T, *hp)  # in memory order
        else:
            np.matmul(gh[:, lo:hi].T, xa, out=gw1[lo:hi])
            K.rmsprop2(w1[lo:hi], gw1[lo:hi], s1[lo:hi], *hp)
        K.rmsprop1(b1[lo:hi], gb1[lo:hi], sb1[lo:hi], *hp)

    def output_layer(e):
        K.rmsprop2(w2, np.matmul(e.T, h), s2, *hp)
        K.rmsprop1(b2, e.sum(axis=0), sb2, *hp)

    if not split:
        def step():
            forward(0, 512)
            e = loss_grad()
            backward(0, 512, e)
            output_layer(e)
        return step
    go, done, job = _thread.allocate_lock(), _thread.allocate_lock(), [None]
    go.acquire()
    done.acquire()

    def worker():
        while True:
            go.acquire()
            job[0]()
            done.release()
    threading.Thread(target=worker, daemon=True).start()

    def other(fn):
        job[0] = fn
        go.release()

    def step():
        other(lambda: forward(256, 512))
        forward(0, 256)
        done.acquire()
        e = loss_grad()
        other(lambda: backward(256, 512, e))
        backward(0, 256, e)
        output_layer(e)
        done.acquire()
    return step


def probe_layout(a):
    from bench.bench_graph import _floor
    cases = {"(out, in) as nn.Linear": hand_step(False), "(in, out) as the floor":
             hand_step(False, in_out=True), "GEMM floor": _floor(np.random.default_rng(0))}
    print(f"\nstep by hand on ember's kernels, first weight's memory layout, µs (interleaved, "
          f"median of {a.steps} per cell)")
    print("| round | " + " | ".join(cases) + " |\n|---:|" + "---:|" * len(cases))
    for r in range(a.rounds):
        med = interleaved(cases, a.steps)
        print(f"| {r + 1} | " + " | ".join(f"{med[n]:.0f}" for n in cases) + " |")


def probe_split(a):
    from bench.bench_graph import _floor
    here = os.path.abspath(__file__)
    print(f"\nstep by hand on ember's kernels, µs (median of {a.steps} per cell); the split in "
          "its own process with OPENBLAS_NUM_THREADS=1, right after the other two")
    print("| round | OpenBLAS 2 threads | GEMM floor | own 2 threads (BLAS 1) |\n|---:|---:|---:|---:|")
    for r in range(a.rounds):
        med = interleaved({"plain": hand_step(False), "floor": _floor(np.random.default_rng(0))},
                          a.steps)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        out = subprocess.run([sys.executable, here, "--split-worker", "--steps", str(a.steps)],
                             capture_output=True, text=True, env=env, check=True)
        split = json.loads(out.stdout.strip().splitlines()[-1])["split"]
        print(f"| {r + 1} | {med['plain']:.0f} | {med['floor']:.0f} | {split:.0f} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", choices=("update", "rest", "layout", "split"), action="append")
    p.add_argument("--split-worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.split_worker:
        step = hand_step(True)
        for _ in range(a.steps):  # the worker thread's first runs are slow: warm it up
            step()
        print(json.dumps({"split": interleaved({"split": step}, a.steps)["split"]}))
        return
    from bench.bench_graph import blas_info
    from bench.harness import machine_line
    print(machine_line())
    print("load average at start: %.1f %.1f %.1f" % os.getloadavg())
    print("BLAS before:", blas_info())
    want = a.only or ("update", "rest", "layout", "split")
    for name in ("update", "rest", "layout", "split"):
        if name in want:
            globals()["probe_" + name](a)
    print("\nBLAS after:", blas_info())
    print("load average at end: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
