"""Cost of ``import ember`` in a fresh interpreter, against ``import numpy`` (issue 12: < 0.2 s).

    .venv/bin/python bench/bench_import.py [--repeats 21] [--ember-path DIR ...]

Commands, each run ``--repeats`` times in a fresh interpreter, interleaved (A, B, C, A, ...) so
machine noise hits all alike; medians (and minima) of the wall time of the whole process, and
the median CPU time (user + sys, which other processes' load moves less than the wall time):

* ``python -c pass`` (the interpreter alone), ``import numpy``;
* ``import ember`` per checkout (this one, and each ``--ember-path DIR``, e.g. main for a
  before/after in one run);
* per checkout, ``import ember`` plus the first use of the training names (``nn.Linear``,
  ``nn.functional``, ``optim.Adam``, ``nn.CrossEntropyLoss``): what a training script pays
  once the lazily loaded parts are touched.

Bytecode is cached, as an installed package has it: PYTHONDONTWRITEBYTECODE is dropped and the
.pyc files go to a temporary PYTHONPYCACHEPREFIX (nothing is written into the checkouts); one
untimed run per command fills that cache. Then, per checkout, ``-X importtime``'s sum of the
self times of ember's own modules (median over the repeats) and how many modules
``import ember`` adds beyond NumPy.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_USE = ("import ember\nember.nn.Linear, ember.nn.functional.cross_entropy, "
             "ember.optim.Adam, ember.nn.CrossEntropyLoss")


def _env(root, cache):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "OPENBLAS_CORETYPE",
                        "OPENBLAS_L2_SIZE")}
    env["PYTHONPYCACHEPREFIX"] = cache
    if root is not None:
        env["PYTHONPATH"] = root
    return env


def _run(args, env):
    # cwd: a directory without an ember in it (``-c`` puts the cwd first on sys.path, ahead of
    # PYTHONPATH, so run from a checkout every command would import that checkout)
    return subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True,
                          text=True, cwd=env["PYTHONPYCACHEPREFIX"])


def ember_self_time(err):
    """Sum of the self times (s) of ember's modules in ``-X importtime`` output ``err``."""
    total = 0
    for line in err.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and \
                parts[2].strip().startswith("ember"):
            total += int(parts[0].split(":")[1])
    return total / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=21, help="fresh interpreters per command")
    ap.add_argument("--ember-path", action="append", default=[],
                    help="another ember checkout to time too (repeatable)")
    a = ap.parse_args()
    roots = {"this checkout": ROOT}
    roots.update({p: os.path.abspath(p) for p in a.ember_path})
    cache = tempfile.mkdtemp(prefix="bench_import_pyc_")
    try:
        cmds = {"python -c pass": (None, "pass"), "import numpy": (None, "import numpy")}
        for label, root in roots.items():
            cmds[f"import ember ({label})"] = (root, "import ember")
            cmds[f"import ember + first use of nn/optim ({label})"] = (root, FIRST_USE)
        for root, code in cmds.values():  # fills the bytecode cache
            _run(["-c", code], _env(root, cache))
        wall = {k: [] for k in cmds}
        cpu = {k: [] for k in cmds}
        own = {label: [] for label in roots}
        for _ in range(a.repeats):
            for k, (root, code) in cmds.items():
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                _run(["-c", code], _env(root, cache))
                wall[k].append(time.perf_counter() - t)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[k].append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
            for label, root in roots.items():
                err = _run(["-X", "importtime", "-c", "import ember"], _env(root, cache)).stderr
                own[label].append(ember_self_time(err))
        print(f"python {sys.version.split()[0]}, {a.repeats} fresh interpreters per command, "
              f"bytecode cached, load average {os.getloadavg()[0]:.1f}; seconds per process: "
              "wall time, and CPU time (user + sys, less moved by other processes' load)")
        width = max(map(len, cmds))
        print(f"{'command':<{width}}  {'wall med':>8}  {'wall min':>8}  {'cpu med':>8}")
        for k, v in wall.items():
            print(f"{k:<{width}}  {statistics.median(v):8.3f}  {min(v):8.3f}  "
                  f"{statistics.median(cpu[k]):8.3f}")
        count = ("import sys, json, numpy\nb = set(sys.modules)\nimport ember\n"
                 "print(json.dumps(sorted(set(sys.modules) - b)))")
        for label, root in roots.items():
            new = json.loads(_run(["-c", count], _env(root, cache)).stdout)
            others = [m for m in new if not m.startswith("ember")]
            print(f"{label}: ember's own modules, -X importtime self time: median "
                  f"{statistics.median(own[label]) * 1e3:.1f} ms, min {min(own[label]) * 1e3:.1f} "
                  f"ms; import ember adds {len(new)} modules beyond numpy"
                  + (f" (not ember's: {others})" if others else ""))
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
