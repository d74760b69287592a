"""The seed CNN (issue 12): training images/s, predict-on-10k images/s and peak memory, ember vs
PyTorch CPU (and optionally other ember checkouts), interleaved in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_cnn_speed.py \\
        [--rounds 5] [--steps 20] [--ember-path /path/to/old/ember ...] [--blas-threads N] \\
        [--kernels numba+onednn numba numpy] [--data random|real]

Network: conv5x5x32 (same) - ReLU - maxpool2 - conv5x5x64 (same) - ReLU - maxpool2 - fc1024 -
ReLU - fc10, Adam(1e-3), batch 100, 28x28x1 inputs; a hand-written loop (zero_grad, forward,
cross-entropy, backward, step) on both sides, and ``predict`` (ember.Model.predict; for PyTorch
eval + no_grad over the same batches of 100).

Fairness:
- every contender runs in its own worker process, started with OPENBLAS_CORETYPE and
  OPENBLAS_L2_SIZE removed from its environment; the parent sends "train" / "predict" to the
  workers in turn, so rounds interleave (A, B, C, A, B, C, ...) and machine load hits all alike;
  medians over rounds are reported;
- the same initial weights (PyTorch's default init, copied into each ember model) and the same
  data (a seeded random Fashion-MNIST-shaped set, or the real one with --data real);
- peak memory is each worker's own ``ru_maxrss`` (resident high-water mark of that process;
  tracemalloc would miss PyTorch's allocator and NumPy's untracked buffers). Reported as the
  peak and as the peak minus the RSS after imports and data loading (what training adds);
- threadpoolctl's view of every contender (BLAS library, version, threads) before and after
  its rounds, to catch thread-count drift.
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
BATCH = 100
N_PREDICT = 10000


# ---------------------------------------------------------------- workers (one per contender)
def _data(kind, n, seed):
    if kind == "real":
        import gzip
        base = "/usr/share/datasets/fashion-mnist"
        cand = [f for f in os.listdir(base) if "train-images" in f]
        with (gzip.open if cand[0].endswith(".gz") else open)(os.path.join(base, cand[0]),
                                                               "rb") as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
        labs = [f for f in os.listdir(base) if "train-labels" in f]
        with (gzip.open if labs[0].endswith(".gz") else open)(os.path.join(base, labs[0]),
                                                              "rb") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        return (x[:n].astype(np.float32) / 255), y[:n]
    rng = np.random.default_rng(seed)
    return (rng.random((n, 1, 28, 28), dtype=np.float32),
            rng.integers(0, 10, n).astype(np.int64))


def _rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pools():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "prefix")}
            for p in threadpool_info()]


def _torch_worker(args, weights_out):
    import torch
    import torch.nn as tnn
    if args.blas_threads:
        torch.set_num_threads(args.blas_threads)
    torch.manual_seed(0)
    net = tnn.Sequential(
        tnn.Conv2d(1, 32, 5, padding="same"), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 5, padding="same"), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(64 * 7 * 7, 1024), tnn.ReLU(), tnn.Linear(1024, 10))
    np.savez(weights_out, **{k: v.detach().numpy() for k, v in net.state_dict().items()})
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = tnn.CrossEntropyLoss()

    def train(x, y):
        net.train()
        for i in range(0, len(x), BATCH):
            xb, yb = torch.from_numpy(x[i:i + BATCH]), torch.from_numpy(y[i:i + BATCH])
            opt.zero_grad()
            loss = lossf(net(xb), yb)
            loss.backward()
            opt.step()
        return float(loss.item())

    def predict(x):
        net.eval()
        with torch.no_grad():
            return np.concatenate([net(torch.from_numpy(x[i:i + BATCH])).numpy()
                                   for i in range(0, len(x), BATCH)])
    return train, predict, f"torch {torch.__version__} ({torch.get_num_threads()} threads)"


def _ember_worker(args, weights_in):
    import ember
    import ember.nn as nn
    import ember.nn.functional as F
    kern = ""
    if args.kernels:
        try:
            import ember.kernels as K
            K.use(args.kernels)
            kern = f", kernels {K.name()}"
        except ImportError:
            kern = ", kernels n/a (old tree)"
    net = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 1024), nn.ReLU(), nn.Linear(1024, 10))
    w = np.load(weights_in)
    net.load_state_dict({k: w[k] for k in w.files})
    opt = ember.optim.Adam(net.parameters(), lr=1e-3)
    model = ember.Model(net)

    def train(x, y):
        net.train()
        for i in range(0, len(x), BATCH):
            xb, yb = ember.Tensor(x[i:i + BATCH]), ember.Tensor(y[i:i + BATCH])
            opt.zero_grad()
            loss = F.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
        return float(loss.item())

    def predict(x):
        return model.predict(x, batch_size=BATCH)
    path = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))
    return train, predict, f"ember at {path}{kern}"


def _onednn_impls():
    """The oneDNN implementations an ember worker's convolutions ran on ('' if none)."""
    mod = sys.modules.get("ember.kernels.onednn_conv")
    if mod is None:
        return ""
    return "; ".join(f"C={k[0][1]}: {'/'.join(p.impls)}" for k, p in mod._plans.items() if p)


def worker(args):
    t0 = time.perf_counter()
    if args.worker == "torch":
        train, predict, label = _torch_worker(args, args.weights)
    else:
        train, predict, label = _ember_worker(args, args.weights)
    x, y = _data(args.data, args.steps * BATCH, 1)
    xp = _data(args.data, N_PREDICT, 2)[0]
    info = {"label": label, "pools_before": _pools(), "rss_base_mib": _rss_mib()}
    # first (warm-up) round: timed separately, it pays lazy imports and kernel compilation
    t = time.perf_counter()
    train(x[:BATCH * 2], y[:BATCH * 2])
    info["first_two_steps_s"] = time.perf_counter() - t
    predict(xp[:BATCH])
    info["setup_s"] = time.perf_counter() - t0
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "train":
            t = time.perf_counter()
            loss = train(x, y)
            print(json.dumps({"s": time.perf_counter() - t, "loss": loss}), flush=True)
        elif cmd == "predict":
            t = time.perf_counter()
            out = predict(xp)
            print(json.dumps({"s": time.perf_counter() - t, "sum": float(np.abs(out).sum())}),
                  flush=True)
        elif cmd == "end":
            print(json.dumps({"pools_after": _pools(), "rss_peak_mib": _rss_mib(),
                              "onednn": _onednn_impls()}), flush=True)
            return


# ---------------------------------------------------------------- parent
class Worker:
    def __init__(self, name, argv, env):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=env, text=True)
        self.info = None

    def ask(self, cmd):
        if cmd is not None:
            self.p.stdin.write(cmd + "\n")
            self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died (exit {self.p.wait()})")
        return json.loads(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="training steps per round")
    ap.add_argument("--ember-path", action="append", default=[],
                    help="another ember checkout to compare (repeatable)")
    ap.add_argument("--kernels", nargs="*", default=None,
                    help="ember kernel implementations to run this tree with, each its own "
                         "contender; NAME+onednn runs float32 convolutions on oneDNN "
                         "(EMBER_ONEDNN=1; plain NAME sets EMBER_ONEDNN=0); NAME/tK also sets "
                         "EMBER_KERNEL_THREADS=K; default: the automatic choice")
    ap.add_argument("--blas-threads", type=int, default=0,
                    help="BLAS/torch threads for every contender (default: libraries' own)")
    ap.add_argument("--data", choices=("random", "real"), default="random")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        if isinstance(args.kernels, list):
            args.kernels = args.kernels[0] if args.kernels else None
        return worker(args)

    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "PYTHONPATH")}
    if args.blas_threads:
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(args.blas_threads)
    weights = os.path.join(tempfile.mkdtemp(prefix="bench_cnn_"), "init.npz")
    common = [sys.executable, os.path.abspath(__file__), "--steps", str(args.steps), "--data",
              args.data, "--weights", weights]
    if args.blas_threads:
        common += ["--blas-threads", str(args.blas_threads)]
    workers = []
    if not args.no_torch:
        workers.append(Worker("PyTorch", common + ["--worker", "torch"], env))
    else:  # still need initial weights: make PyTorch-style ones with a throwaway torch worker
        tw = Worker("init", common + ["--worker", "torch"], env)
        tw.ask(None)
        tw.ask("end")
    if workers:  # PyTorch writes the initial weights before it answers
        workers[0].info = workers[0].ask(None)
    for kind in (args.kernels or [None]):
        e = dict(env, PYTHONPATH=ROOT)
        impl = kind
        if kind:  # e.g. numba+onednn: convolutions on oneDNN, the rest on numba
            impl, dnnl, _ = kind.partition("+onednn")
            e["EMBER_ONEDNN"] = "1" if dnnl else "0"
        if impl and "/t" in impl:  # e.g. numba/t1: that implementation, kernel pool width 1
            impl, width = impl.split("/t")
            e["EMBER_KERNEL_THREADS"] = width
        argv = common + ["--worker", "ember"] + (["--kernels", impl] if impl else [])
        workers.append(Worker(f"ember (this tree{', ' + kind if kind else ''})", argv, e))
    for i, path in enumerate(args.ember_path):
        e = dict(env, PYTHONPATH=os.path.abspath(path))
        workers.append(Worker(f"ember ({path})", common + ["--worker", "ember"], e))
    for w in workers:
        if w.info is None:
            w.info = w.ask(None)
    times = {w.name: {"train": [], "predict": []} for w in workers}
    for r in range(args.rounds):
        for task in ("train", "predict"):
            for w in workers:
                times[w.name][task].append(w.ask(task)["s"])
    ends = {w.name: w.ask("end") for w in workers}
    for w in workers:
        w.p.wait()

    import platform
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"NumPy {np.__version__}; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for every worker"
          f"; load average before {os.getloadavg()[0]:.1f}")
    print(f"seed CNN, batch {BATCH}, {args.steps} training steps per round, predict on "
          f"{N_PREDICT} images; medians of {args.rounds} interleaved rounds ({args.data} data)\n")
    ref = None if args.no_torch else workers[0].name
    hdr = ("| contender | train img/s | vs PyTorch | predict img/s | vs PyTorch | peak RSS MiB "
           "| RSS added MiB | first 2 steps s |")
    print(hdr)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    med = {n: {k: statistics.median(v) for k, v in t.items()} for n, t in times.items()}
    for w in workers:
        m = med[w.name]
        tr = args.steps * BATCH / m["train"]
        pr = N_PREDICT / m["predict"]
        rtr = f"{med[ref]['train'] / m['train']:.2f}x" if ref else "-"
        rpr = f"{med[ref]['predict'] / m['predict']:.2f}x" if ref else "-"
        peak = ends[w.name]["rss_peak_mib"]
        print(f"| {w.name} | {tr:.0f} | {rtr} | {pr:.0f} | {rpr} | {peak:.0f} | "
              f"{peak - w.info['rss_base_mib']:.0f} | {w.info['first_two_steps_s']:.2f} |")
    print()
    for w in workers:
        print(f"{w.name}: {w.info['label']}")
        print(f"  BLAS before: {w.info['pools_before']}")
        print(f"  BLAS after:  {ends[w.name]['pools_after']}")
        if ends[w.name].get("onednn"):
            print(f"  oneDNN convolutions: {ends[w.name]['onednn']}")
        print(f"  train s/round: {[round(t, 3) for t in times[w.name]['train']]}")
        print(f"  predict s/round: {[round(t, 3) for t in times[w.name]['predict']]}")


if __name__ == "__main__":
    main()
