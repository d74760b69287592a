"""Eager overhead and the MLP step: ember vs PyTorch CPU vs the NumPy matmul floor.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_core.py

1. Microseconds per small op (16x16 add / matmul / relu), without and with autograd recording.
2. Forward + backward of a 2-layer MLP (784-512-10, batch 128, ReLU, softmax cross-entropy),
   against the floor: the same five matrix multiplies alone in NumPy.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ember  # noqa: E402
from bench.harness import fmt_us, interleaved, machine_line, table  # noqa: E402

try:
    import torch
    torch.set_num_threads(os.cpu_count())
except ImportError:  # pragma: no cover
    torch = None


def small_ops():
    rows = []
    a = np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32)
    ea, eb = ember.tensor(a), ember.tensor(a)
    ga, gb = ember.tensor(a, requires_grad=True), ember.tensor(a, requires_grad=True)
    ops = {"add": (lambda x, y: x + y), "matmul": (lambda x, y: x @ y),
           "relu": (lambda x, y: x.relu())}
    for name, f in ops.items():
        c = {"numpy": (lambda f=f, name=name: np.maximum(a, 0) if name == "relu" else
                       f(a, a)),
             "ember": lambda f=f: f(ea, eb), "ember (grad)": lambda f=f: f(ga, gb)}
        if torch is not None:
            ta, tb = torch.tensor(a), torch.tensor(a)
            tga, tgb = ta.clone().requires_grad_(), tb.clone().requires_grad_()
            c["torch"] = lambda f=f: f(ta, tb)
            c["torch (grad)"] = lambda f=f: f(tga, tgb)
        r = interleaved(c, repeats=9)
        rows.append([name] + [fmt_us(r[k]) for k in
                              ["numpy", "ember", "torch", "ember (grad)", "torch (grad)"] if k in r])
    hdr = ["16x16 op", "NumPy", "ember", "PyTorch", "ember+grad", "PyTorch+grad"]
    return table(rows, hdr[:len(rows[0])])


def mlp_step():
    rng = np.random.default_rng(0)
    B, D, H, C = 128, 784, 512, 10
    x = rng.standard_normal((B, D)).astype(np.float32)
    y = rng.integers(0, C, B)
    w1 = (rng.standard_normal((D, H)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((H, C)) * 0.05).astype(np.float32)
    b1, b2 = np.zeros(H, np.float32), np.zeros(C, np.float32)

    def floor():
        h = x @ w1
        s = h @ w2
        dW2 = h.T @ s
        dh = s @ w2.T
        dW1 = x.T @ dh
        return dW1, dW2

    ex, ew1, ew2 = ember.tensor(x), ember.tensor(w1, requires_grad=True), ember.tensor(w2, requires_grad=True)
    eb1, eb2 = ember.tensor(b1, requires_grad=True), ember.tensor(b2, requires_grad=True)
    idx = (np.arange(B), y)

    def ember_step():
        h = (ex @ ew1 + eb1).relu()
        s = h @ ew2 + eb2
        loss = (s.logsumexp(1) - s[idx]).mean()
        for p in (ew1, ew2, eb1, eb2):
            p.grad = None
        loss.backward()

    c = {"numpy matmuls only (floor)": floor, "ember": ember_step}
    if torch is not None:
        tx, ty = torch.tensor(x), torch.tensor(y)
        tw1, tw2 = torch.tensor(w1, requires_grad=True), torch.tensor(w2, requires_grad=True)
        tb1, tb2 = torch.tensor(b1, requires_grad=True), torch.tensor(b2, requires_grad=True)

        def torch_step():
            h = torch.relu(tx @ tw1 + tb1)
            s = h @ tw2 + tb2
            loss = torch.nn.functional.cross_entropy(s, ty)
            for p in (tw1, tw2, tb1, tb2):
                p.grad = None
            loss.backward()

        c["torch"] = torch_step
    r = interleaved(c, repeats=15)
    base = r["numpy matmuls only (floor)"]
    return table([[k, fmt_us(v), f"{v / base:.2f}x"] for k, v in r.items()],
                 ["MLP 784-512-10, batch 128, fwd+bwd", "median", "vs floor"])


if __name__ == "__main__":
    print(machine_line())
    if torch is not None:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    print()
    print(small_ops())
    print()
    print(mlp_step())
