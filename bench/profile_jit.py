"""Where the jitted README MLP step spends its time: each statement of the generated replay.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/profile_jit.py \
        [--steps 600] [--clock wall|thread] [--top 30]

The step (784-512-10, ReLU, RMSprop, batch 128, float32) is traced by ``@ember.jit``; its
generated source (``ember/graph/replay.py``) is then compiled again with a clock read before
each statement of the function body and of the blocks one level in (an optimizer update is
such a block: ``if g is not None:``), in the generated function's own namespace, so the
statements run exactly as in the replay. Each step is followed by the GEMM floor of
``bench_graph.py`` (the step's five matrix products alone in NumPy), timed the same way, so both
see the same machine. Prints the median per statement over the steps (outliers of a shared
machine do not add up as in a mean), largest first, and the floor's.

``--clock thread`` reads the calling thread's CPU clock instead of the wall clock: with
``OPENBLAS_NUM_THREADS=1`` it is the work each statement does, whatever the load of the machine
(a clock read costs ~1-2 µs, which the small statements show).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SKIP = ("else", "elif", "except", "finally", "return MISS")


def instrument(source: str):
    """The source with ``_t(k)`` before statement k (indent 4 or 8), and the labels."""
    out, labels = [], {}
    lines = source.split("\n")
    body = next(i for i, ln in enumerate(lines) if "return MISS" in ln and ln.startswith("        ")
                and i > 3)  # the guard's miss: the statements after it are the replay's
    for i, ln in enumerate(lines):
        s = ln.lstrip()
        ind = len(ln) - len(s)
        if i > body and ind in (4, 8) and s and not s.startswith(SKIP):
            out.append(" " * ind + f"_t({i})")
            # a block's header is timed with its body: name it by its first line too
            labels[i] = s + (" " + lines[i + 1].strip() if s.endswith(":") else "")
        if i > body and ind == 4 and s.startswith("return"):
            out.append(" " * ind + "_t(-1)")
        out.append(ln)
    return "\n".join(out), labels


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--clock", choices=("wall", "thread"), default="wall")
    p.add_argument("--top", type=int, default=30)
    a = p.parse_args()
    from bench.bench_graph import blas_info
    from bench.harness import jitted_readme_mlp
    clock = time.perf_counter_ns if a.clock == "wall" else time.thread_time_ns
    rng = np.random.default_rng(0)
    _, entry, (x, y) = jitted_readme_mlp()
    if entry.fast is None:
        sys.exit("the step has no generated replay (it runs on the graph executor)")
    src, labels = instrument(entry.source)
    ns = dict(entry.fast.__globals__)
    cur, last = {}, [None, 0]

    def _t(k):
        t = clock()
        if last[0] is not None:
            cur[last[0]] = cur.get(last[0], 0) + t - last[1]
        last[0] = None if k < 0 else k
        last[1] = clock()
    ns["_t"] = _t
    exec(compile(src, "<ember.jit profiled>", "exec"), ns)
    replay = ns["replay"]
    xa, w1 = rng.standard_normal((128, 784)).astype(np.float32), \
        rng.standard_normal((784, 512)).astype(np.float32)
    w2, g = rng.standard_normal((512, 10)).astype(np.float32), \
        rng.standard_normal((128, 10)).astype(np.float32)

    def floor():
        t0 = clock()
        h = xa @ w1
        t1 = clock()
        h @ w2
        h.T @ g
        g @ w2.T
        t2 = clock()
        xa.T @ h
        t3 = clock()
        return t1 - t0, t2 - t1, t3 - t2, t3 - t0
    for _ in range(20):
        replay(x, y)
        floor()
    per, steps, floors = {}, [], []
    for _ in range(a.steps):
        cur.clear()
        last[0] = None
        t0 = clock()
        replay(x, y)
        steps.append(clock() - t0)
        for k, v in cur.items():
            per.setdefault(k, []).append(v)
        floors.append(floor())

    def med(v):
        return statistics.median(v) / 1e3
    print(f"{a.clock} clock, {a.steps} steps; BLAS: {blas_info()}; load {os.getloadavg()[0]:.1f}")
    print(f"step (instrumented) median {med(steps):.0f} µs; floor {med([s[3] for s in floors]):.0f}"
          f" µs (x@w1 {med([s[0] for s in floors]):.0f}, the three small products "
          f"{med([s[1] for s in floors]):.0f}, x.T@h {med([s[2] for s in floors]):.0f})")
    rows = sorted(((med(v), k) for k, v in per.items()), reverse=True)
    print("| median µs | statement |\n|---:|---|")
    for v, k in rows[:a.top]:
        print(f"| {v:.1f} | `{labels[k][:90]}` |")
    print(f"sum of the medians: {sum(v for v, _ in rows):.0f} µs")


if __name__ == "__main__":
    main()
