"""Graph mode and the jit: ember.compat.v1 vs TensorFlow's compat.v1, ``@ember.jit`` vs eager.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_graph.py \
        [--tf-python /tmp/tfvenv/bin/python] [--repeats 7] [--epoch-samples 60000] \
        [--only graph|tiny|mlp|epoch ...]

TensorFlow is used only when a Python with it is given (``--tf-python``, or ``EMBER_TF_PYTHON``,
or ``/tmp/tfvenv/bin/python`` when it exists); otherwise its row is skipped and the output says
so. The BLAS thread pools (threadpoolctl) are printed before and after the run.

The step: N=64, D=1000, H=100, two Variables, tf.gradients, two assigns grouped,
``sess.run([loss, updates], feed_dict)``. Contenders, one process each for TensorFlow (it lives
in its own environment: never a dependency of ember):

* ember graph, all passes;  ember graph, no passes (what the passes buy);
* the same step by hand in NumPy (the floor: four GEMMs plus the elementwise work);
* TensorFlow 2.x ``tf.compat.v1`` graph mode, when ``--tf-python`` is given.

Then the tiny step (batch 1, 16-16-2 MLP, SGD): eager ember, ``@ember.jit``, PyTorch, NumPy;
the README MLP step (784-512-10, RMSprop, batch 128): eager, ``@ember.jit`` (with the numba
kernels, and with the NumPy lowerings only), PyTorch, the same step by hand on NumPy and
ember's numba kernels (the practical floor), GEMM floor; and the
README MLP epoch through ``Model.fit`` (``jit=False`` / ``jit=True``) against the GEMM floor of
the same number of steps.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

N, D, H = 64, 1000, 100


def listing(tf, **session_kw):
    """The lecture's Variables + assign + group listing; returns a zero-argument step."""
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.Variable(tf.random_normal((D, H)))
    w2 = tf.Variable(tf.random_normal((H, D)))
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff ** 2, axis=1))
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
    learning_rate = 1e-5
    new_w1 = w1.assign(w1 - learning_rate * grad_w1)
    new_w2 = w2.assign(w2 - learning_rate * grad_w2)
    updates = tf.group(new_w1, new_w2)
    sess = tf.Session(**session_kw)
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(0)
    values = {x: rng.standard_normal((N, D)).astype(np.float32),
              y: rng.standard_normal((N, D)).astype(np.float32)}
    return lambda: sess.run([loss, updates], feed_dict=values)


def numpy_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D)).astype(np.float32)
    y = rng.standard_normal((N, D)).astype(np.float32)
    w = [rng.standard_normal((D, H)).astype(np.float32),
         rng.standard_normal((H, D)).astype(np.float32)]

    def step():
        hp = x @ w[0]
        h = np.maximum(hp, 0)
        diff = h @ w[1] - y
        loss = np.mean(np.sum(diff * diff, axis=1))
        g = diff * np.float32(2 / N)
        g2 = h.T @ g
        gh = (g @ w[1].T) * (hp > 0)
        g1 = x.T @ gh
        w[0] -= np.float32(1e-5) * g1
        w[1] -= np.float32(1e-5) * g2
        return loss
    return step


def tiny_steps():
    """Batch 1, 16-16-2 MLP, SGD: eager ember, @ember.jit, PyTorch, hand-written NumPy."""
    import ember
    from ember import nn
    from ember.nn import functional as F
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((1, 16)).astype(np.float32)
    ya = np.array([1])
    out = {}

    def make():
        ember.manual_seed(0)
        m = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
        return m, ember.optim.SGD(m.parameters(), lr=0.01)

    for name, wrap in (("ember eager", lambda f: f), ("ember @jit", ember.jit)):
        m, opt = make()
        x, y = ember.tensor(xa), ember.tensor(ya)

        def step(x, y, m=m, opt=opt):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss
        f = wrap(step)
        out[name] = (lambda f=f, x=x, y=y: f(x, y))
    try:
        import torch
        torch.set_num_threads(1)
        tm = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        topt = torch.optim.SGD(tm.parameters(), lr=0.01)
        tx, ty = torch.tensor(xa), torch.tensor(ya)

        def tstep():
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tm(tx), ty)
            loss.backward()
            topt.step()
        out["PyTorch eager"] = tstep
    except ImportError:  # pragma: no cover
        pass
    w1 = rng.standard_normal((16, 16)).astype(np.float32) * 0.25
    w2 = rng.standard_normal((16, 2)).astype(np.float32) * 0.25
    b1, b2 = np.zeros(16, np.float32), np.zeros(2, np.float32)

    def npstep(w1=w1, w2=w2, b1=b1, b2=b2):
        hp = xa @ w1 + b1
        h = np.maximum(hp, 0)
        z = h @ w2 + b2
        e = np.exp(z - z.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        p[0, ya[0]] -= 1
        gh = (p @ w2.T) * (hp > 0)
        w2 -= 0.01 * (h.T @ p)
        b2 -= 0.01 * p[0]
        w1 -= 0.01 * (xa.T @ gh)
        b1 -= 0.01 * gh[0]
    out["NumPy by hand"] = npstep
    return out


def mlp_steps():
    """README MLP (784-512-10, ReLU, RMSprop, batch 128): eager vs @ember.jit (with the numba
    one-pass kernels when numba is there, and with the NumPy lowerings only), and the floor of
    its matrix multiplies alone (forward 2, backward 3) in NumPy. PyTorch: ``torch_mlp_only``."""
    import ember
    from ember import nn
    from ember.graph import fused
    from ember.nn import functional as F
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((128, 784)).astype(np.float32)
    ya = rng.integers(0, 10, 128)
    out = {}
    variants = [("ember eager", False, None), ("ember @jit", True, None)]
    if fused.kernels() is not None:
        variants.append(("ember @jit, NumPy lowerings (EMBER_KERNELS=numpy)", True, "numpy"))
    for name, jit, kernels in variants:
        ember.manual_seed(0)
        m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        opt = ember.optim.RMSprop(m.parameters(), lr=1e-3)
        x, y = ember.tensor(xa), ember.tensor(ya)

        def step(x, y, m=m, opt=opt):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss
        f = ember.jit(step) if jit else step
        if kernels:  # the lowerings are chosen when the signature is traced: trace it now
            from ember.optim._fused import compiled
            compiled()  # (the eager optimizer's own choice is made once: not under the switch)
            old = os.environ.get("EMBER_KERNELS")
            os.environ["EMBER_KERNELS"] = kernels
            try:
                f(x, y)
            finally:
                if old is None:
                    del os.environ["EMBER_KERNELS"]
                else:
                    os.environ["EMBER_KERNELS"] = old
        out[name] = (lambda f=f, x=x, y=y: f(x, y))
    if fused.kernels() is not None:
        out["NumPy + ember's numba kernels, by hand"] = _hand_fused(xa, ya, fused.kernels())
    out["NumPy matmuls only (floor)"] = _floor(rng)
    return out


def _hand_fused(xa, ya, K):
    """The same step written by hand: the five products into preallocated buffers (weights
    stored (out, in) as nn.Linear), bias + ReLU and ReLU backward + bias-gradient sums as
    ember's one-pass numba kernels, the cross-entropy in NumPy on the (128, 10) logits, and
    RMSprop as the one-pass kernel per parameter. What a step on these kernels costs with no
    framework at all: the practical floor of the jit (the GEMM floor leaves out every pass
    that is not a product)."""
    rng = np.random.default_rng(1)
    f32 = np.float32
    n = len(xa)
    w1 = (rng.standard_normal((512, 784)) * 0.035).astype(f32)
    w2 = (rng.standard_normal((10, 512)) * 0.044).astype(f32)
    b1, b2 = np.zeros(512, f32), np.zeros(10, f32)
    params = (w1, b1, w2, b2)
    sq = [np.zeros_like(q) for q in params]
    hp = (f32(0.99), f32(0.01), f32(1e-8), f32(-1e-3))
    h, z = np.empty((n, 512), f32), np.empty((n, 10), f32)
    gh, gb1 = np.empty((n, 512), f32), np.empty(512, f32)
    rows = np.arange(n)

    def step():
        np.matmul(xa, w1.T, out=h)
        K.bias_relu(h, b1)
        np.matmul(h, w2.T, out=z)
        np.add(z, b2, out=z)
        np.subtract(z, z.max(axis=1, keepdims=True), out=z)
        e = np.exp(z)
        se = e.sum(axis=1, keepdims=True)
        loss = np.log(se[:, 0]).sum() - z[rows, ya].sum()
        e /= se
        e[rows, ya] -= 1
        e *= f32(1 / n)
        np.matmul(e, w2, out=gh)
        gw2 = np.matmul(e.T, h)
        gb2 = e.sum(axis=0)
        K.relu_grad_colsum(gh, h, gb1)
        gw1 = np.matmul(gh.T, xa)
        for q, g, s in zip(params, (gw1, gb1, gw2, gb2), sq):
            (K.rmsprop2 if q.ndim == 2 else K.rmsprop1)(q, g, s, *hp)
        return loss / n
    return step


def _floor(rng):
    """The README MLP step's five matrix products alone (forward 2, backward 3), in NumPy."""
    xa = rng.standard_normal((128, 784)).astype(np.float32)
    w1 = rng.standard_normal((784, 512)).astype(np.float32)
    w2 = rng.standard_normal((512, 10)).astype(np.float32)
    g = rng.standard_normal((128, 10)).astype(np.float32)

    def floor():
        h = xa @ w1
        h @ w2
        h.T @ g
        g @ w2.T
        xa.T @ h
    return floor


def torch_mlp_only(repeats):
    """Run in a process of its own: the README MLP step in PyTorch (its default threads) and the
    GEMM floor, interleaved; prints the medians as JSON. Its own process, because PyTorch's
    OpenMP threads keep spinning after each step and would slow the ember contenders (and
    OpenBLAS's threads slow PyTorch) if they were interleaved in one process."""
    import torch

    from bench.harness import interleaved
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((128, 784)).astype(np.float32)
    ya = rng.integers(0, 10, 128)
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    topt = torch.optim.RMSprop(tm.parameters(), lr=1e-3)
    tx, ty = torch.tensor(xa), torch.tensor(ya)

    def tstep():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        loss.backward()
        topt.step()
    floor = _floor(rng)
    med = interleaved({"torch": tstep, "floor": floor}, repeats=repeats)
    print(json.dumps({"torch": med["torch"], "floor": med["floor"], "version": torch.__version__,
                      "threads": torch.get_num_threads()}))


def mlp_epochs(samples):
    """One epoch of ``Model.fit`` on the README MLP (784-512-10, RMSprop, batch 128), eager and
    ``jit=True`` (each fit traces its step on its first batch of each shape: counted), and the
    GEMM floor of the same steps."""
    import ember
    from ember import nn
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, 784)).astype(np.float32)
    y = rng.integers(0, 10, samples)
    out = {}
    for name, jit in (("fit, eager", False), ("fit, jit=True", True)):
        ember.manual_seed(0)
        net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        model = ember.Model(net)
        model.compile(optimizer=ember.optim.RMSprop(net.parameters(), lr=1e-3),
                      loss="cross_entropy", metrics=["accuracy"])
        out[name] = (lambda model=model, jit=jit:
                     model.fit(x, y, batch_size=128, epochs=1, verbose=0, jit=jit))
    floor = _floor(np.random.default_rng(0))
    full, rest = divmod(samples, 128)

    def epoch_floor():
        for _ in range(full + (rest > 0)):
            floor()
    out["NumPy matmuls only (floor)"] = epoch_floor
    return out


def cpu_times(contenders, repeats, number=500):
    """name -> (median, best) process CPU seconds per call, interleaved: on a shared machine
    the CPU clock hides the time the process waits for a core (not the cache it loses)."""
    import statistics
    import time
    for f in contenders.values():
        f()
    samples = {k: [] for k in contenders}
    for _ in range(repeats):
        for k, f in contenders.items():
            t = time.process_time()
            for _ in range(number):
                f()
            samples[k].append((time.process_time() - t) / number)
    return {k: (statistics.median(v), min(v)) for k, v in samples.items()}


def blas_info():
    """The BLAS thread pools as threadpoolctl sees them (a line per pool)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install threadpoolctl)"
    return "; ".join(f"{d.get('internal_api')} {d.get('version')} "
                     f"num_threads={d.get('num_threads')}" for d in threadpool_info()) or "none"


def _find_tf(given):
    for cand in (given, os.environ.get("EMBER_TF_PYTHON"), "/tmp/tfvenv/bin/python"):
        if cand and os.path.exists(cand):
            return cand
    return None


def tf_only(repeats):
    """Run inside TensorFlow's environment: print the median seconds per step as JSON."""
    import tensorflow.compat.v1 as tf
    from bench.harness import interleaved
    tf.disable_eager_execution()
    tf.disable_v2_behavior()
    med = interleaved({"tf": listing(tf)}, repeats=repeats)
    print(json.dumps({"tf": med["tf"], "version": tf.__version__ if hasattr(tf, "__version__")
                      else __import__("tensorflow").__version__}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tf-python", help="a Python with tensorflow installed (its own venv)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--epoch-samples", type=int, default=60000,
                   help="samples in the fit epoch (60000: Fashion-MNIST's training set)")
    p.add_argument("--only", choices=("graph", "tiny", "mlp", "epoch"), action="append",
                   help="run only these sections (repeatable); default: all")
    p.add_argument("--tf-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--torch-mlp-only", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.tf_only:
        return tf_only(a.repeats)
    if a.torch_mlp_only:
        return torch_mlp_only(a.repeats)
    import ember.compat.v1 as etf
    from bench.harness import fmt_us, interleaved, machine_line, table
    print(machine_line())
    print("load average at start: %.1f %.1f %.1f" % os.getloadavg())
    print("BLAS before:", blas_info())
    import warnings
    want = set(a.only or ("graph", "tiny", "mlp", "epoch"))
    if "graph" in want:
        contenders = {"numpy by hand (floor)": numpy_step()}
        etf.reset_default_graph()
        contenders["ember graph, all passes"] = listing(etf)
        etf.reset_default_graph()
        contenders["ember graph, no passes"] = listing(etf, passes=())
        med = interleaved(contenders, repeats=a.repeats)
        tf_line = None
        a.tf_python = _find_tf(a.tf_python)
        if not a.tf_python:
            tf_line = ("TensorFlow: skipped (no Python with tensorflow found: pass --tf-python, "
                       "set EMBER_TF_PYTHON, or create /tmp/tfvenv)")
        if a.tf_python:
            env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(
                __file__))), TF_CPP_MIN_LOG_LEVEL="3")
            r = subprocess.run([a.tf_python, __file__, "--tf-only", "--repeats", str(a.repeats)],
                               capture_output=True, text=True, env=env)
            if r.returncode == 0:
                out = json.loads(r.stdout.strip().splitlines()[-1])
                med[f"TensorFlow {out['version']} compat.v1"] = out["tf"]
                # TensorFlow ran alone, after: ember again right after it, to show the drift
                after = interleaved({"ember graph, all passes (again, after TF)":
                                     contenders["ember graph, all passes"]}, repeats=a.repeats)
                med.update(after)
            else:
                tf_line = "TensorFlow run failed: " + r.stderr.strip().splitlines()[-1]
        floor = med["numpy by hand (floor)"]
        rows = [(k, fmt_us(v), f"{v / floor:.2f}x") for k, v in med.items()]
        print(f"\nsess.run([loss, updates]) step, N={N}, D={D}, H={H}; median of {a.repeats} "
              "interleaved samples (TensorFlow in its own process)")
        print(table(rows, ["contender", "median", "vs numpy"]))
        if tf_line:
            print(tf_line)
    if "tiny" in want:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the jitted step must be compiled, not a fallback
            tiny = interleaved(tiny_steps(), repeats=a.repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cpu = cpu_times(tiny_steps(), repeats=a.repeats)
        print("\nTiny step (batch 1, 16-16-2 MLP, SGD, zero_grad/forward/backward/step)")
        print(table([(k, fmt_us(v), fmt_us(cpu[k][0]), fmt_us(cpu[k][1])) for k, v in tiny.items()],
                    ["contender", "median per step", "CPU time, median", "CPU time, best"]))
    if "mlp" in want:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mlp = interleaved(mlp_steps(), repeats=a.repeats)
        fl = mlp["NumPy matmuls only (floor)"]
        print("\nMLP step (784-512-10, RMSprop, batch 128)")
        print(table([(k, fmt_us(v), f"{v / fl:.2f}x") for k, v in mlp.items()],
                    ["contender", "median per step", "vs floor"]))
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(
            __file__))))
        r = subprocess.run([sys.executable, __file__, "--torch-mlp-only", "--repeats",
                            str(a.repeats)], capture_output=True, text=True, env=env)
        if r.returncode == 0:
            t = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"PyTorch {t['version']} eager, same step ({t['threads']} threads), in its own "
                  f"process: {fmt_us(t['torch'])} vs its floor {fmt_us(t['floor'])} there: "
                  f"{t['torch'] / t['floor']:.2f}x")
        else:
            print("PyTorch: skipped (" + (r.stderr.strip().splitlines() or ["failed"])[-1] + ")")
    if "epoch" in want:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ep = interleaved(mlp_epochs(a.epoch_samples), repeats=max(3, a.repeats // 2), number=1)
        fl = ep["NumPy matmuls only (floor)"]
        print(f"\nMLP epoch through Model.fit ({a.epoch_samples} samples, batch 128, RMSprop)")
        print(table([(k, fmt_us(v), f"{v / fl:.2f}x") for k, v in ep.items()],
                    ["contender", "median per epoch", "vs floor"]))
    print("\nBLAS after:", blas_info())
    print("load average at end: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
