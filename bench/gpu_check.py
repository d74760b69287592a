"""GPU check: the op suite on CUDA against the CPU, and the README's MLP and the seed CNN timed
against PyTorch CUDA. Writes its section of bench/RESULTS.md. Unattended, under 5 minutes.

    .venv/bin/python bench/gpu_check.py               # on a machine with an NVIDIA GPU + CuPy
    .venv/bin/python bench/gpu_check.py --device fake --no-write   # dry run on the test device

Without a GPU (or without CuPy) it prints "skipped: no GPU ..." and exits 0.
Exit status 1 when an op or layer disagrees with the CPU.
"""
import argparse
import importlib
import os
import statistics
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import ember  # noqa: E402
import ember.nn as nn  # noqa: E402
import ember.nn.functional as F  # noqa: E402

from harness import machine_line, table  # noqa: E402

START, END = "<!-- gpu_check:start -->", "<!-- gpu_check:end -->"
BUDGET = 240.0  # seconds for the whole run (the limit is 5 minutes)


def op_suite(device, log):
    """Every op-table case and layer case on ``device`` vs the CPU (float32)."""
    from ember.testing.device_check import compare_fn, compare_module
    try:
        from tests.core.test_ops_grad import CASES
        from tests.nn.test_layers_vs_torch import CASES as LAYERS
    except ImportError as e:  # pytest or the tests folder missing
        log(f"op suite skipped: cannot import the test tables ({e})")
        return None
    rows, failed = [], []
    for name, fn, arrays in CASES:
        try:
            compare_fn(fn, arrays, device, rtol=1e-4, atol=1e-5)
        except Exception as e:  # report every failure, keep going
            failed.append((name, e))
    for name, make, _, shape in LAYERS:
        for train in (True, False):
            ember.manual_seed(0)
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            try:
                compare_module(make(), x, device, rtol=1e-4, atol=1e-4, train=train)
            except Exception as e:
                failed.append((f"{name} ({'train' if train else 'eval'})", e))
    n = len(CASES) + 2 * len(LAYERS)
    rows.append(["ops and layers vs CPU (float32)", f"{n - len(failed)}/{n} agree"])
    for name, e in failed:
        log(f"MISMATCH {name}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    return rows, failed


def _mlp_ember(device):
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10)).to(device)
    return m, ember.optim.RMSprop(m.parameters(), lr=1e-3)


def _cnn_ember(device):
    ember.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(),
                      nn.Linear(64, 10)).to(device)
    return m, ember.optim.Adam(m.parameters(), lr=1e-3)


def _time_steps(step, sync, steps, repeats):
    """Median seconds per training step over ``repeats`` runs of ``steps`` steps."""
    step()
    sync()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        out.append((time.perf_counter() - t) / steps)
    return statistics.median(out)


def timings(device, steps, repeats, log):
    rng = np.random.default_rng(0)
    sync = ember.cuda.synchronize
    rows = []
    try:
        import torch
        tdev = "cuda" if torch.cuda.is_available() and device.startswith("cuda") else None
    except ImportError:
        torch, tdev = None, None
    if tdev is None:
        log("PyTorch CUDA not available: ember timings only")
    for label, make, x_shape, batch in [("README MLP 784-512-10, RMSprop", _mlp_ember,
                                         (784,), 128),
                                        ("seed CNN (2 conv + 2 dense), Adam", _cnn_ember,
                                         (1, 28, 28), 64)]:
        x = rng.random((batch,) + x_shape, dtype=np.float32)
        y = rng.integers(0, 10, batch)
        m, opt = make(device)
        xe, ye = ember.tensor(x, device=device), ember.tensor(y, device=device)

        def step():
            loss = F.cross_entropy(m(xe), ye)
            opt.zero_grad()
            loss.backward()
            opt.step()
        te = _time_steps(step, sync, steps, repeats)
        row = [label + f", batch {batch}", f"{te * 1e3:.2f} ms"]
        if tdev is not None:
            tm = (torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                      torch.nn.Linear(512, 10)) if x_shape == (784,) else
                  torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(),
                                      torch.nn.MaxPool2d(2), torch.nn.Conv2d(32, 64, 3),
                                      torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                      torch.nn.Flatten(), torch.nn.Linear(1600, 64),
                                      torch.nn.ReLU(), torch.nn.Linear(64, 10))).to(tdev)
            topt = (torch.optim.RMSprop(tm.parameters(), lr=1e-3) if x_shape == (784,) else
                    torch.optim.Adam(tm.parameters(), lr=1e-3))
            xt, yt = torch.tensor(x, device=tdev), torch.tensor(y, device=tdev)

            def tstep():
                loss = torch.nn.functional.cross_entropy(tm(xt), yt)
                topt.zero_grad()
                loss.backward()
                topt.step()
            tt = _time_steps(tstep, torch.cuda.synchronize, steps, repeats)
            row += [f"{tt * 1e3:.2f} ms", f"{te / tt:.2f}x"]
        else:
            row += ["-", "-"]
        rows.append(row)
    return rows


def write_results(text):
    path = os.path.join(HERE, "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    block = f"{START}\n{text.rstrip()}\n{END}\n"
    if START in old and END in old:
        new = old[:old.index(START)] + block + old[old.index(END) + len(END) + 1:]
    else:
        new = old.rstrip() + "\n\n" + block
    with open(path, "w") as f:
        f.write(new)
    print(f"wrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or fake (dry run)")
    ap.add_argument("--steps", type=int, default=20, help="training steps per timing sample")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda"):
        if not ember.cuda.is_available():
            print("skipped: no GPU (ember.cuda.is_available() is False: this needs an NVIDIA "
                  "GPU and CuPy, e.g. pip install cupy-cuda12x)")
            return 0
    elif args.device == "fake":
        importlib.import_module("ember.testing.fake_device")  # registers the test device
    t0 = time.perf_counter()
    notes = []

    def log(msg):
        print(msg)
        notes.append(msg)

    suite = op_suite(args.device, log)
    print(f"op suite: {time.perf_counter() - t0:.1f} s")
    rows = []
    if time.perf_counter() - t0 < BUDGET:
        try:
            rows = timings(args.device, args.steps, args.repeats, log)
        except Exception:
            log("timings failed:\n" + traceback.format_exc(limit=3))
    total = time.perf_counter() - t0
    gpu = ""
    if args.device.startswith("cuda"):
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(0)
        gpu = f"{props['name'].decode()}, CuPy {cupy.__version__}"
    text = "\n".join([
        "## GPU check", "",
        "The op suite (tests/core op table and tests/nn layer table, forward and every "
        "gradient) on the GPU against the CPU, and one training step of the README's MLP and "
        "of the seed CNN against PyTorch CUDA (medians; random inputs of Fashion-MNIST's "
        "shapes).", "",
        f"    .venv/bin/python bench/gpu_check.py --steps {args.steps} --repeats {args.repeats}",
        "", f"{machine_line()}; device {args.device} {gpu}; run took {total:.0f} s", "",
        table(suite[0] if suite else [["op suite", "not run"]], ["check", "result"]), "",
        table(rows or [["timings", "not run", "-", "-"]],
              ["training step", "ember", "PyTorch", "ember / PyTorch"]), ""]
        + ([f"- {n}" for n in notes] if notes else []))
    print()
    print(text)
    if not args.no_write:
        write_results(text)
    return 1 if suite and suite[1] else 0


if __name__ == "__main__":
    sys.exit(main())
