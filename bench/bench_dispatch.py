"""Eager cost of the dispatcher: this tree against an older commit, interleaved in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_dispatch.py [BASE] \
        [--repeats N] [--only CASE ...]

BASE (default be58802, the commit before the dispatcher) is exported with ``git archive`` into
a temporary folder and imported as the package ``ember_base`` (its absolute ``ember`` imports
renamed), so both engines live in one process and are timed alternately, sample by sample
(A, B, A, B, ...): machine noise hits both alike. Timed with a CPU clock (medians and minima;
the thread's for the small ops, the process's for the MLP, whose BLAS uses threads), since on
a shared machine the wall clock measures the wait for a core. Cases: the 16x16 ops of
bench_core.py without and with recording, the tiny step of issue 12 (16-16-2 MLP, batch 1,
SGD: zero_grad, forward, cross-entropy, backward, step), bench_core's MLP step (784-512-10, batch 128) and
bench_train's MLP epoch (``Model.fit`` over 60,000 images, RMSprop). ``--calls`` counts function
calls per call instead (cProfile; all and Python-level), which machine load does not change.
"""
import importlib
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.harness import fmt_us, machine_line  # noqa: E402


def interleaved_cpu(contenders, repeats=15, min_time=0.02, clock=time.thread_time):
    """As ``bench.harness.interleaved`` (A, B, A, B... samples, seconds per call), timed with
    a CPU clock: on a shared, loaded machine the wall clock mostly measures the waits for a
    core. ``clock``: this thread's (small ops) or the process's (BLAS threads). Returns
    name -> (median, min)."""
    numbers = {}
    for name, fn in contenders.items():
        fn()
        n = 1
        while True:
            t0 = clock()
            for _ in range(n):
                fn()
            if clock() - t0 >= min_time or n >= 1 << 20:
                break
            n *= 2
        numbers[name] = n
    samples = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            n = numbers[name]
            t0 = clock()
            for _ in range(n):
                fn()
            samples[name].append((clock() - t0) / n)
    return {k: (statistics.median(v), min(v)) for k, v in samples.items()}


def calls_per_call(fn, n=50):
    """(all calls, Python-function calls) per call of ``fn``, counted by cProfile: a
    load-independent measure of the per-op overhead (each Python frame costs ~0.1-0.3 us)."""
    import cProfile
    import pstats
    fn()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        fn()
    pr.disable()
    st = pstats.Stats(pr).stats
    total = sum(v[1] for v in st.values())
    py = sum(v[1] for k, v in st.items() if k[0] != "~")
    return total / n, py / n


def export(commit, dest):
    """``git archive`` of ``commit``'s ember/ into dest/ember_base, absolute imports renamed."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "ember"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    pkg = pathlib.Path(dest) / "ember_base"
    (pathlib.Path(dest) / "ember").rename(pkg)
    for f in pkg.rglob("*.py"):
        src = f.read_text()
        new = re.sub(r"\b(from|import) ember\b", r"\1 ember_base", src)
        if new != src:
            f.write_text(new)


def cases(em, tag):
    a = np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32)
    ea, eb = em.tensor(a), em.tensor(a)
    ga, gb = em.tensor(a, requires_grad=True), em.tensor(a, requires_grad=True)
    rng = np.random.default_rng(0)
    B, D, H, C = 128, 784, 512, 10
    x = em.tensor(rng.standard_normal((B, D)).astype(np.float32))
    y = rng.integers(0, C, B)
    w1 = em.tensor((rng.standard_normal((D, H)) * 0.05).astype(np.float32), requires_grad=True)
    w2 = em.tensor((rng.standard_normal((H, C)) * 0.05).astype(np.float32), requires_grad=True)
    b1 = em.tensor(np.zeros(H, np.float32), requires_grad=True)
    b2 = em.tensor(np.zeros(C, np.float32), requires_grad=True)
    idx = (np.arange(B), y)

    def mlp():
        h = (x @ w1 + b1).relu()
        s = h @ w2 + b2
        loss = (s.logsumexp(1) - s[idx]).mean()
        for p in (w1, w2, b1, b2):
            p.grad = None
        loss.backward()

    X = rng.random((60000, 784), dtype=np.float32)
    Y = rng.integers(0, 10, 60000)

    def epoch():  # bench_train.py's MLP epoch: Keras-style fit, RMSprop, batch 128
        from importlib import import_module
        layers, models = (import_module(f"{em.__name__}.keras.{n}") for n in ("layers", "models"))
        em.manual_seed(0)
        m = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                               layers.Dense(10)])
        m.compile(optimizer=em.optim.RMSprop(m.parameters(), lr=1e-3), loss="cross_entropy")
        m.fit(X, Y, batch_size=128, epochs=1, verbose=0)

    tiny_model = em.nn.Sequential(em.nn.Linear(16, 16), em.nn.ReLU(), em.nn.Linear(16, 2))
    tiny_opt = em.optim.SGD(tiny_model.parameters(), lr=0.01)
    tx = em.tensor(rng.random((1, 16), dtype=np.float32))
    ty = em.tensor(np.array([1]))
    ce = em.nn.functional.cross_entropy

    def tiny():  # the issue-12 tiny step: 16-16-2 MLP, batch 1, SGD
        tiny_opt.zero_grad()
        loss = ce(tiny_model(tx), ty)
        loss.backward()
        tiny_opt.step()

    c = {"add": lambda: ea + eb, "matmul": lambda: ea @ eb, "relu": lambda: ea.relu(),
         "add (grad)": lambda: ga + gb, "matmul (grad)": lambda: ga @ gb,
         "relu (grad)": lambda: ga.relu(), "tiny step": tiny, "MLP step": mlp, "MLP epoch (fit)": epoch}
    return {(k, tag): f for k, f in c.items()}


CASES = ["add", "matmul", "relu", "add (grad)", "matmul (grad)", "relu (grad)", "tiny step",
         "MLP step", "MLP epoch (fit)"]


def main(base="be58802", repeats=25, only=None, calls=False):
    with tempfile.TemporaryDirectory() as tmp:
        export(base, tmp)
        sys.path.insert(0, tmp)
        old = importlib.import_module("ember_base")
        import ember as new
        assert new.__file__.startswith(ROOT), new.__file__
        rows = {}
        ca, cb = cases(old, "base"), cases(new, "new")
        if calls:
            print(f"| case (calls per call) | {base} all | {base} Python | this tree all | "
                  "this tree Python |\n|---|---|---|---|---|")
            for name in only or CASES:
                if name == "MLP epoch (fit)":
                    continue
                (a, ap), (b, bp) = calls_per_call(ca[(name, "base")]), \
                    calls_per_call(cb[(name, "new")])
                print(f"| {name} | {a:.0f} | {ap:.0f} | {b:.0f} | {bp:.0f} |")
            return
        for name in only or CASES:
            big = name.startswith("MLP")
            r = interleaved_cpu({"base": ca[(name, "base")], "new": cb[(name, "new")]},
                                repeats=5 if name == "MLP epoch (fit)" else repeats,
                                clock=time.process_time if big else time.thread_time,
                                min_time=0.0 if name == "MLP epoch (fit)" else 0.02)
            rows[name] = (r["base"], r["new"])
    print(machine_line())
    print(f"| case (CPU time per call) | {base} median | this tree median | change | "
          f"{base} min | this tree min | change |\n|---|---|---|---|---|---|---|")
    for name, ((a, amin), (b, bmin)) in rows.items():
        print(f"| {name} | {fmt_us(a)} | {fmt_us(b)} | {100 * (b / a - 1):+.1f}% | "
              f"{fmt_us(amin)} | {fmt_us(bmin)} | {100 * (bmin / amin - 1):+.1f}% |")


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base", nargs="?", default="be58802", help="commit to compare against")
    ap.add_argument("--repeats", type=int, default=25)
    ap.add_argument("--only", nargs="+", choices=CASES, metavar="CASE",
                    help=f"run these cases only (of: {', '.join(CASES)})")
    ap.add_argument("--calls", action="store_true",
                    help="count function calls per call (cProfile) instead of timing: the same "
                         "on a loaded machine as on an idle one")
    a = ap.parse_args()
    main(a.base, a.repeats, a.only, a.calls)
