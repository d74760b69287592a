"""Eager cost of the dispatcher: this tree against an older commit, interleaved in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_dispatch.py [BASE]

BASE (default be58802, the commit before the dispatcher) is exported with ``git archive`` into
a temporary folder. Each round runs one short subprocess per tree, alternating A, B, A, B...
so machine noise hits both alike; each subprocess times the 16x16 ops of bench_core.py (with
and without recording) and the bench_core MLP step, and the medians over rounds are compared.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = r"""
import json, time, numpy as np, ember
from bench.harness import interleaved
a = np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32)
ea, eb = ember.tensor(a), ember.tensor(a)
ga, gb = ember.tensor(a, requires_grad=True), ember.tensor(a, requires_grad=True)
c = {"add": lambda: ea + eb, "matmul": lambda: ea @ eb, "relu": lambda: ea.relu(),
     "add (grad)": lambda: ga + gb, "matmul (grad)": lambda: ga @ gb,
     "relu (grad)": lambda: ga.relu()}
rng = np.random.default_rng(0)
B, D, H, C = 128, 784, 512, 10
x = ember.tensor(rng.standard_normal((B, D)).astype(np.float32))
y = rng.integers(0, C, B)
w1 = ember.tensor((rng.standard_normal((D, H)) * 0.05).astype(np.float32), requires_grad=True)
w2 = ember.tensor((rng.standard_normal((H, C)) * 0.05).astype(np.float32), requires_grad=True)
b1 = ember.tensor(np.zeros(H, np.float32), requires_grad=True)
b2 = ember.tensor(np.zeros(C, np.float32), requires_grad=True)
idx = (np.arange(B), y)
def mlp():
    h = (x @ w1 + b1).relu()
    s = h @ w2 + b2
    loss = (s.logsumexp(1) - s[idx]).mean()
    for p in (w1, w2, b1, b2):
        p.grad = None
    loss.backward()
c["MLP step"] = mlp
print(json.dumps(interleaved(c, repeats=5, min_time=0.02)))
"""


def export(commit, dest):
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)


def probe(tree):
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tree, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(base="be58802", rounds=7):
    with tempfile.TemporaryDirectory() as tmp:
        export(base, tmp)
        trees = {f"base {base}": tmp, "this tree": ROOT}
        samples = {k: [] for k in trees}
        for _ in range(rounds):
            for name, tree in trees.items():
                samples[name].append(probe(tree))
    names = list(trees)
    keys = list(samples[names[0]][0])
    med = {n: {k: statistics.median(s[k] for s in samples[n]) for k in keys} for n in names}
    lines = [f"| case | {names[0]} | {names[1]} | change |", "|---|---|---|---|"]
    for k in keys:
        a, b = med[names[0]][k], med[names[1]][k]
        unit, f = ("ms", 1e3) if k == "MLP step" else ("µs", 1e6)
        lines.append(f"| {k} | {a * f:.2f} {unit} | {b * f:.2f} {unit} | {100 * (b / a - 1):+.1f}% |")
    print("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:2])
