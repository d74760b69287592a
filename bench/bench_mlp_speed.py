"""The README MLP and the tiny step: ember vs PyTorch (and NumPy by hand), interleaved in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_mlp_speed.py \
        [--repeats 3] [--samples 60000] [--ember-path DIR ...] [--skip-memory]

Cases (issue 12):

* MLP epoch, 784-512-10, ReLU, softmax cross-entropy, RMSprop lr 1e-3, batch 128, shuffled:
  ember ``Model.fit`` the Keras way (``ember.keras`` Sequential with Dense(512, relu),
  Dense(10, softmax), ``compile("rmsprop", "categorical_crossentropy")``), ember by hand
  (``nn.Sequential``, ``F.cross_entropy``, ``optim.RMSprop``, ``data.DataLoader``), PyTorch by
  hand (its DataLoader idiom, and a randperm-slice loop without it), the same step in NumPy by
  hand, and the GEMM floor (the five matrix products of forward + backward alone, in NumPy,
  the same shapes and batches).
* Tiny step, 16-16-2 MLP, batch 1, SGD: zero_grad, forward, loss, backward, step.
* ``import ember`` (wall time of a fresh interpreter, and ``-X importtime``'s total for ember).
* Peak memory (``ru_maxrss``) of one MLP epoch, each contender alone in a fresh process.

Every contender runs in its own worker process (so two ember checkouts can be compared:
``--ember-path DIR`` adds the ember found in DIR); the parent asks the workers for one sample at
a time, in turn (A, B, C, A, B, C, ...), so machine noise hits all alike, and reports medians.
Data (random, of Fashion-MNIST's shapes, seed 0) and initial weights (PyTorch's default
initialisation, seed 0, copied into every contender) are the same for all. No contender sets a
BLAS thread count: each worker prints its threadpoolctl view (library, version, threads) before
and after timing, so a changed thread count would show. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are
removed from every worker's environment.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BATCH, IN, HID, OUT = 128, 784, 512, 10


# ---- shared inputs -------------------------------------------------------------------------
def data(n):
    rng = np.random.default_rng(0)
    return rng.random((n, IN), dtype=np.float32), rng.integers(0, 10, n)


def make_weights(path):
    """PyTorch's default init (seed 0) of both networks, saved for every contender."""
    import torch
    torch.manual_seed(0)
    big = torch.nn.Sequential(torch.nn.Linear(IN, HID), torch.nn.ReLU(), torch.nn.Linear(HID, OUT))
    tiny = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    arrays = {}
    for name, m in (("mlp", big), ("tiny", tiny)):
        for i, p in enumerate(m.parameters()):
            arrays[f"{name}{i}"] = p.detach().numpy().copy()
    np.savez(path, **arrays)


def thread_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return "threadpoolctl not installed"
    return "; ".join(f"{d.get('internal_api')} {d.get('version')} ({d.get('user_api')}) "
                     f"{d.get('num_threads')} threads" for d in threadpool_info()) or "no pools"


# ---- contenders (run inside a worker) --------------------------------------------------------
def ember_cases(w, x, y):
    import ember
    from ember import nn
    from ember.nn import functional as F
    from ember.keras import layers, models, utils

    def keras_fit():
        net = models.Sequential([layers.Dense(HID, activation="relu", input_shape=(IN,)),
                                 layers.Dense(OUT, activation="softmax")])
        net.compile(optimizer="rmsprop", loss="categorical_crossentropy")
        dense = [m for m in net.modules() if isinstance(m, layers.Dense)]
        for d, (wi, bi) in zip(dense, ((w["mlp0"], w["mlp1"]), (w["mlp2"], w["mlp3"]))):
            d.weight.data[...] = wi  # Dense keeps nn.Linear's (out, in) layout
            d.bias.data[...] = bi
        yc = utils.to_categorical(y, OUT)

        def epoch():
            t = time.perf_counter()
            net.fit(x, yc, epochs=1, batch_size=BATCH, verbose=0)
            return time.perf_counter() - t
        return epoch

    def hand():
        model = nn.Sequential(nn.Linear(IN, HID), nn.ReLU(), nn.Linear(HID, OUT))
        for p, k in zip(model.parameters(), ("mlp0", "mlp1", "mlp2", "mlp3")):
            p.data[...] = w[k]
        opt = ember.optim.RMSprop(model.parameters(), lr=1e-3)
        loader = ember.data.DataLoader(ember.data.TensorDataset(x, y), batch_size=BATCH,
                                       shuffle=True)

        def epoch():
            t = time.perf_counter()
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            return time.perf_counter() - t
        return epoch

    def tiny():
        model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
        for p, k in zip(model.parameters(), ("tiny0", "tiny1", "tiny2", "tiny3")):
            p.data[...] = w[k]
        opt = ember.optim.SGD(model.parameters(), lr=0.01)
        tx, ty = ember.tensor(x[:1, :16]), ember.tensor(y[:1] % 2)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(tx), ty)
            loss.backward()
            opt.step()
        return _per_call(step)

    return {"mlp_fit": keras_fit, "mlp_hand": hand, "tiny": tiny}


def torch_cases(w, x, y):
    import torch
    F = torch.nn.functional

    def build():
        m = torch.nn.Sequential(torch.nn.Linear(IN, HID), torch.nn.ReLU(), torch.nn.Linear(HID, OUT))
        with torch.no_grad():
            for p, k in zip(m.parameters(), ("mlp0", "mlp1", "mlp2", "mlp3")):
                p.copy_(torch.from_numpy(w[k]))
        return m, torch.optim.RMSprop(m.parameters(), lr=1e-3)

    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def loader_loop():
        m, opt = build()
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(tx, ty),
                                             batch_size=BATCH, shuffle=True)

        def epoch():
            t = time.perf_counter()
            for xb, yb in loader:
                loss = F.cross_entropy(m(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            return time.perf_counter() - t
        return epoch

    def slice_loop():
        m, opt = build()

        def epoch():
            t = time.perf_counter()
            perm = torch.randperm(len(tx))
            for i in range(0, len(tx), BATCH):
                idx = perm[i:i + BATCH]
                loss = F.cross_entropy(m(tx[idx]), ty[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            return time.perf_counter() - t
        return epoch

    def tiny():
        m = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        with torch.no_grad():
            for p, k in zip(m.parameters(), ("tiny0", "tiny1", "tiny2", "tiny3")):
                p.copy_(torch.from_numpy(w[k]))
        opt = torch.optim.SGD(m.parameters(), lr=0.01)
        a, b = torch.from_numpy(x[:1, :16].copy()), torch.from_numpy(y[:1] % 2)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(m(a), b)
            loss.backward()
            opt.step()
        return _per_call(step)

    return {"mlp_hand": loader_loop, "mlp_slices": slice_loop, "tiny": tiny}


def numpy_cases(w, x, y):
    """The step by hand (forward, softmax cross-entropy, backward, PyTorch's RMSprop rule) and
    the GEMM floor: the five products alone, on the same batches."""
    n = len(x)
    starts = range(0, n, BATCH)

    def hand():
        w1, b1, w2, b2 = (w[k].copy() for k in ("mlp0", "mlp1", "mlp2", "mlp3"))
        params = [w1, b1, w2, b2]
        sq = [np.zeros_like(p) for p in params]
        rng = np.random.default_rng(1)

        def epoch():
            t = time.perf_counter()
            perm = rng.permutation(n)
            for i in starts:
                idx = perm[i:i + BATCH]
                xb, yb = x[idx], y[idx]
                m = len(xb)
                hp = xb @ w1.T
                hp += b1
                h = np.maximum(hp, 0)
                z = h @ w2.T
                z += b2
                z -= z.max(1, keepdims=True)
                e = np.exp(z)
                p = e / e.sum(1, keepdims=True)
                p[np.arange(m), yb] -= 1
                p /= m
                gh = p @ w2
                gh *= hp > 0
                grads = [gh.T @ xb, gh.sum(0), p.T @ h, p.sum(0)]
                for par, g, s in zip(params, grads, sq):
                    s *= 0.99
                    s += 0.01 * g * g
                    par -= 1e-3 * g / (np.sqrt(s) + 1e-8)
            return time.perf_counter() - t
        return epoch

    def floor():
        w1, w2 = w["mlp0"].T.copy(), w["mlp2"].T.copy()  # (in, out): x @ w, no transposes
        bs = [(x[i:i + BATCH], np.ones((min(BATCH, n - i), OUT), np.float32)) for i in starts]

        def epoch():
            t = time.perf_counter()
            for xb, g in bs:
                h = xb @ w1           # forward 1
                _ = h @ w2            # forward 2
                gh = g @ w2.T         # backward: d h
                _ = h.T @ g           # d w2
                _ = xb.T @ gh         # d w1
            return time.perf_counter() - t
        return epoch

    def tiny():
        w1, b1, w2, b2 = (w[k].copy() for k in ("tiny0", "tiny1", "tiny2", "tiny3"))
        xa, ya = x[:1, :16].copy(), y[:1] % 2

        def step(w1=w1, b1=b1, w2=w2, b2=b2):  # in-place updates of the bound arrays
            hp = xa @ w1.T + b1
            h = np.maximum(hp, 0)
            z = h @ w2.T + b2
            e = np.exp(z - z.max(1, keepdims=True))
            p = e / e.sum(1, keepdims=True)
            p[0, ya[0]] -= 1
            gh = (p @ w2) * (hp > 0)
            w2 -= 0.01 * (p.T @ h)
            b2 -= 0.01 * p[0]
            w1 -= 0.01 * (gh.T @ xa)
            b1 -= 0.01 * gh[0]
        return _per_call(step)

    return {"mlp_hand": hand, "mlp_floor": floor, "tiny": tiny}


def _per_call(fn, number=2000):
    """A sample: seconds per call of ``fn`` over ``number`` calls."""
    for _ in range(50):
        fn()

    def sample():
        t = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t) / number
    return sample


# ---- memory (a fresh process per contender) ---------------------------------------------------
def memory_run(kind, case, n, weights):
    import resource

    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    w = dict(np.load(weights))
    before_import = rss()
    cases = {"ember": lambda: ember_cases, "torch": lambda: torch_cases,
             "numpy": lambda: numpy_cases}[kind]()
    if kind == "torch":
        import torch  # noqa: F401
    elif kind == "ember":
        import ember  # noqa: F401
        import ember.data  # noqa: F401
        import ember.keras  # noqa: F401
    after_import = rss()
    x, y = data(n)
    after_data = rss()
    cases(w, x, y)[case]()()
    peak = rss()
    return {"import": after_import - before_import, "data": after_data - after_import,
            "peak": peak, "training": peak - after_data}


# ---- the worker side ---------------------------------------------------------------------------
def worker(kind, n, weights):
    w = dict(np.load(weights))
    x, y = data(n)
    builders = {"ember": ember_cases, "torch": torch_cases, "numpy": numpy_cases}[kind](w, x, y)
    lib = ""
    if kind == "torch":
        import torch
        lib = f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads; "
    elif kind == "ember":
        import ember
        lib = f"ember from {os.path.dirname(os.path.dirname(ember.__file__))}; "
    samplers = {}
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not break the protocol
    out.write(json.dumps({"info": lib + thread_info()}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd == "info":
            reply = {"info": lib + thread_info()}
            if kind == "torch":
                import torch
                reply["info"] = f"torch {torch.__version__}, {torch.get_num_threads()} " \
                                f"intra-op threads; " + thread_info()
        elif cmd not in builders:
            reply = {"skip": True}
        else:
            if cmd not in samplers:
                samplers[cmd] = builders[cmd]()
                samplers[cmd]()  # warm-up sample (first-call allocations, lazy imports)
            reply = {"t": samplers[cmd]()}
        out.write(json.dumps(reply) + "\n")
        out.flush()


class Worker:
    def __init__(self, name, kind, env, n, weights):
        self.name, self.kind = name, kind
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", kind,
                                   "--samples", str(n), "--weights", weights],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env)
        self.info_before = json.loads(self.p.stdout.readline())["info"]

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait(timeout=60)


BLAS_THREADS = None  # --blas-threads: the same thread count for every contender


def clean_env(ember_root=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if BLAS_THREADS is not None:
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(BLAS_THREADS)
    if ember_root is not None:
        env["PYTHONPATH"] = ember_root
    return env


def import_times(roots, repeats):
    """Wall time of ``python -c "import ember"`` per checkout (and numpy alone, torch), median
    of ``repeats`` fresh interpreters, interleaved; plus ``-X importtime``'s ember total.
    With bytecode cached, as an installed package has it: PYTHONDONTWRITEBYTECODE is dropped
    and the .pyc files go to a temporary PYTHONPYCACHEPREFIX (nothing written into the
    checkouts); one untimed run per command fills that cache."""
    cache = tempfile.mkdtemp(prefix="bench_mlp_pyc_")

    def env_for(root):
        env = clean_env(root)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
        return env
    cmds = {"python (empty)": (None, "pass"), "import numpy": (None, "import numpy")}
    for label, root in roots.items():
        cmds[f"import ember ({label})"] = (root, "import ember")
    cmds["import torch"] = (None, "import torch")
    samples = {k: [] for k in cmds}
    # cwd=cache: `-c` puts the cwd first on sys.path, ahead of PYTHONPATH, so run from a
    # checkout every "import ember" would load that checkout, whatever --ember-path says
    for root, code in cmds.values():
        subprocess.run([sys.executable, "-c", code], env=env_for(root), check=True, cwd=cache)
    for _ in range(repeats):
        for k, (root, code) in cmds.items():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env_for(root), check=True,
                           cwd=cache)
            samples[k].append(time.perf_counter() - t)
    out = {k: statistics.median(v) for k, v in samples.items()}
    for label, root in roots.items():
        r = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ember"],
                           env=env_for(root), capture_output=True, text=True, check=True,
                           cwd=cache)
        last = [ln for ln in r.stderr.splitlines() if ln.rstrip().endswith("| ember")]
        if last:
            out[f"-X importtime, ember cumulative ({label})"] = int(last[-1].split("|")[1]) / 1e6
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved samples per contender")
    ap.add_argument("--samples", type=int, default=60000, help="images per MLP epoch")
    ap.add_argument("--ember-path", action="append", default=[],
                    help="another ember checkout to benchmark too (repeatable)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--blas-threads", type=int,
                    help="set OPENBLAS/OMP/MKL_NUM_THREADS to N for every contender alike "
                         "(default: untouched; on a loaded machine 1 is the steadier choice)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    ap.add_argument("--memory", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker and a.memory:
        print(json.dumps(memory_run(a.worker, a.memory[0], a.samples, a.weights)))
        return
    if a.worker:
        worker(a.worker, a.samples, a.weights)
        return

    global BLAS_THREADS
    BLAS_THREADS = a.blas_threads
    import platform
    if a.blas_threads:
        print(f"--blas-threads {a.blas_threads}: OPENBLAS/OMP/MKL_NUM_THREADS set for every "
              "contender")
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}; OpenBLAS env vars unset for every contender; load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    roots = {"this tree": ROOT}
    for p in a.ember_path:
        roots[os.path.basename(os.path.normpath(p)) or p] = os.path.abspath(p)
    tmp = tempfile.mkdtemp(prefix="bench_mlp_")
    weights = os.path.join(tmp, "w.npz")
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {HERE!r}); "
                    f"import bench_mlp_speed as b; b.make_weights({weights!r})"],
                   env=clean_env(), check=True)
    workers = [Worker(f"ember ({label})", "ember", clean_env(root), a.samples, weights)
               for label, root in roots.items()]
    workers += [Worker("PyTorch", "torch", clean_env(), a.samples, weights),
                Worker("NumPy", "numpy", clean_env(), a.samples, weights)]
    print("\nthread pools before timing:")
    for wk in workers:
        print(f"  {wk.name}: {wk.ask('info')['info']}")
    cases = {"mlp_fit": "MLP epoch, Model.fit (Keras route)",
             "mlp_hand": "MLP epoch, hand-written loop",
             "mlp_slices": "MLP epoch, loop over randperm slices (no DataLoader)",
             "mlp_floor": "MLP epoch, GEMM floor (5 matmuls/step, NumPy)",
             "tiny": "tiny step (16-16-2, batch 1, SGD)"}
    results = {}
    for case in cases:
        live = [wk for wk in workers if not wk.ask(case).get("skip")]  # also the warm-up
        samples = {wk.name: [] for wk in live}
        for _ in range(a.repeats):
            for wk in live:
                samples[wk.name].append(wk.ask(case)["t"])
        results[case] = {k: statistics.median(v) for k, v in samples.items()}
    print("\nthread pools after timing:")
    for wk in workers:
        print(f"  {wk.name}: {wk.ask('info')['info']}")
        wk.close()

    print(f"\nMLP 784-512-10, RMSprop lr 1e-3, batch {BATCH}, {a.samples} images per epoch; "
          f"median of {a.repeats} interleaved epochs")
    floor = results["mlp_floor"]["NumPy"]
    print("| contender | s/epoch | vs GEMM floor |\n|---|---:|---:|")
    for case in ("mlp_fit", "mlp_hand", "mlp_slices", "mlp_floor"):
        for name, t in results[case].items():
            label = {"mlp_fit": "Model.fit", "mlp_hand": "by hand", "mlp_slices": "slices",
                     "mlp_floor": "GEMM floor"}[case]
            print(f"| {name}, {label} | {t:.3f} | {t / floor:.2f}x |")
    print("\nTiny step (16-16-2 MLP, batch 1, SGD: zero_grad, forward, loss, backward, step)")
    print("| contender | µs/step |\n|---|---:|")
    for name, t in results["tiny"].items():
        print(f"| {name} | {t * 1e6:.1f} |")

    print(f"\nImport (fresh interpreter, bytecode cached, wall, median of "
          f"{max(a.repeats, 5)})")
    print("| command | seconds |\n|---|---:|")
    for k, v in import_times(roots, max(a.repeats, 5)).items():
        print(f"| {k} | {v:.3f} |")

    if not a.skip_memory:
        print("\nPeak memory of one MLP epoch, each contender alone in a fresh process "
              f"(ru_maxrss, MiB; data = the {a.samples} x 784 float32 inputs + labels)")
        print("| contender | peak | import | data | training (peak - after data) |")
        print("|---|---:|---:|---:|---:|")
        runs = [(f"ember ({label}), Model.fit", "ember", "mlp_fit", root)
                for label, root in roots.items()]
        runs += [(f"ember ({label}), by hand", "ember", "mlp_hand", root)
                 for label, root in roots.items()]
        runs += [("PyTorch, DataLoader loop", "torch", "mlp_hand", None),
                 ("PyTorch, slices loop", "torch", "mlp_slices", None),
                 ("NumPy by hand", "numpy", "mlp_hand", None)]
        for label, kind, case, root in runs:
            r = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", kind,
                                "--memory", case, "-", "--samples", str(a.samples),
                                "--weights", weights], env=clean_env(root),
                               capture_output=True, text=True, check=True)
            m = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"| {label} | {m['peak']:.0f} | {m['import']:.0f} | {m['data']:.0f} | "
                  f"{m['training']:.0f} |")


if __name__ == "__main__":
    main()
