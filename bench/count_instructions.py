"""Instructions per tiny step (issue 12), counted by valgrind's callgrind: a figure that machine
load does not move, for A/B comparisons of small changes on a shared machine.

    .venv/bin/python bench/count_instructions.py [TREE ...]

For each ember checkout TREE (default: this one) the tiny step (16-16-2 MLP, batch 1, SGD:
zero_grad, forward, cross-entropy, backward, step) runs 100 and 400 times after a warm-up, each
in its own process under callgrind; the difference over 300 steps is the step's count.
OPENBLAS_NUM_THREADS=1 and PYTHONHASHSEED=0 keep the two runs alike. Needs valgrind.
"""
import os
import re
import shutil
import subprocess
import sys

STEP = r"""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ember as em
rng = np.random.default_rng(0)
model = em.nn.Sequential(em.nn.Linear(16, 16), em.nn.ReLU(), em.nn.Linear(16, 2))
opt = em.optim.SGD(model.parameters(), lr=0.01)
x = em.tensor(rng.random((1, 16), dtype=np.float32))
y = em.tensor(np.array([1]))
ce = em.nn.functional.cross_entropy
for _ in range(50 + int(sys.argv[2])):
    opt.zero_grad()
    loss = ce(model(x), y)
    loss.backward()
    opt.step()
"""


def count(tree, steps):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                        sys.executable, "-c", STEP, tree, str(steps)],
                       capture_output=True, text=True, env=env)
    m = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode or not m:
        raise SystemExit(f"callgrind failed for {tree}:\n{r.stderr[-2000:]}")
    return int(m.group(1))


def main():
    if shutil.which("valgrind") is None:
        raise SystemExit("count_instructions: valgrind is not installed (apt-get install valgrind)")
    trees = sys.argv[1:] or [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    for tree in trees:
        per_step = (count(tree, 400) - count(tree, 100)) / 300
        print(f"{tree}: {per_step / 1000:.1f}k instructions per tiny step")


if __name__ == "__main__":
    main()
