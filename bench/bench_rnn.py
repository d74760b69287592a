"""Recurrent layers: ember vs PyTorch CPU, interleaved in one run.

    python bench/bench_rnn.py [--repeats 7] [--lm-steps 10]

1. One LSTM layer, batch 64, 100 steps, 128 inputs, 256 hidden: forward + backward (loss = sum
   of output * fixed random upstream gradient, input gradient included). Issue 14 goal: at
   most 1.5x PyTorch's time.
2. Char-LM training steps per second: Embedding(75, 32) -> LSTM(256) -> Linear(75), batch 32,
   100 characters, cross-entropy, Adam, gradient clipping: the same model and data in both.
3. ``--pin-ab``: the RNN primitive's per-thread OpenBLAS pin (``EMBER_RNN_BLAS_PIN``; one BLAS
   thread for per-step products below ``nn_rnn.SMALL_STEP`` multiply-adds) on against off,
   interleaved in one process, wall and CPU time per forward + backward. Run it without
   OPENBLAS_NUM_THREADS=1 (with one BLAS thread anyway, the pin changes nothing).
Medians of interleaved runs (ember, PyTorch, ember, ...) so machine load hits both alike.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ember  # noqa: E402
import ember.nn as nn  # noqa: E402
import ember.nn.functional as F  # noqa: E402


def interleave(fe, ft, repeats):
    for _ in range(2):
        fe(), ft()
    te, tt = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fe()
        t1 = time.perf_counter()
        ft()
        t2 = time.perf_counter()
        te.append(t1 - t0)
        tt.append(t2 - t1)
    return float(np.median(te)), float(np.median(tt))


def lstm_layer(torch, repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 64, 128)).astype(np.float32)
    g = rng.standard_normal((100, 64, 256)).astype(np.float32)
    tm = torch.nn.LSTM(128, 256)
    em = nn.LSTM(128, 256)
    em.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    ex, tx = ember.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eg, tg = ember.Tensor(g), torch.tensor(g)

    def run_e():
        em.zero_grad()
        ex.grad = None
        em(ex)[0].backward(eg)

    def run_t():
        tm.zero_grad()
        tx.grad = None
        tm(tx)[0].backward(tg)
    return interleave(run_e, run_t, repeats)


def char_lm(torch, steps, V=75, H=256, B=32, T=100):
    rng = np.random.default_rng(0)
    data = rng.integers(0, V, (steps + 2, B, T + 1))

    class EmberLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.lstm, self.out = nn.Embedding(V, 32), nn.LSTM(32, H, batch_first=True), \
                nn.Linear(H, V)

        def forward(self, x):
            return self.out(self.lstm(self.emb(x))[0])

    class TorchLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.lstm = torch.nn.Embedding(V, 32), torch.nn.LSTM(32, H, batch_first=True)
            self.out = torch.nn.Linear(H, V)

        def forward(self, x):
            return self.out(self.lstm(self.emb(x))[0])

    em, tm = EmberLM(), TorchLM()
    eo, to = ember.optim.Adam(em.parameters(), 3e-3), torch.optim.Adam(tm.parameters(), 3e-3)
    it = {"e": 0, "t": 0}

    def step_e():
        b = data[it["e"] % len(data)]
        it["e"] += 1
        logits = em(ember.Tensor(b[:, :-1]))
        loss = F.cross_entropy(logits.reshape(-1, V), ember.Tensor(b[:, 1:].reshape(-1)))
        eo.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(em.parameters(), 1.0)
        eo.step()

    def step_t():
        b = torch.tensor(data[it["t"] % len(data)])
        it["t"] += 1
        logits = tm(b[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), b[:, 1:].reshape(-1))
        to.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tm.parameters(), 1.0)
        to.step()
    te, tt = interleave(step_e, step_t, steps)
    return 1 / te, 1 / tt


PIN_CASES = [  # (label, module, batch, steps, inputs); the first two are below SMALL_STEP
    ("BiGRU 24->96, batch 64, 16 steps (lang-ID)", lambda: nn.GRU(24, 96, bidirectional=True),
     64, 16, 24),
    ("LSTM 32->128, batch 32, 100 steps (small char-LM)", lambda: nn.LSTM(32, 128), 32, 100, 32),
    ("LSTM 128->256, batch 64, 100 steps (above SMALL_STEP: never pinned)",
     lambda: nn.LSTM(128, 256), 64, 100, 128),
]


def pin_ab(repeats, calls=3):
    """Pin on vs off for each case: medians over ``repeats`` interleaved rounds (the order
    alternates each round) of ``calls`` forward + backward passes; wall and process CPU
    seconds per pass."""
    from ember.ops import nn_rnn
    pin = nn_rnn._LOCAL_THREADS
    if pin is None:
        print("no per-thread OpenBLAS setter found (or EMBER_RNN_BLAS_PIN=0): nothing to "
              "compare")
        return []
    rows = []
    rng = np.random.default_rng(0)
    for label, make, B, T, n_in in PIN_CASES:
        m = make()
        x = ember.Tensor(rng.standard_normal((T, B, n_in)).astype(np.float32),
                         requires_grad=True)

        def once():
            for _ in range(calls):
                m.zero_grad()
                x.grad = None
                out = m(x)[0]
                (out * out).sum().backward()
        res = {"on": ([], []), "off": ([], [])}
        try:
            for r in range(repeats + 1):
                for which in (("on", "off") if r % 2 == 0 else ("off", "on")):
                    nn_rnn._LOCAL_THREADS = pin if which == "on" else None
                    w0, c0 = time.perf_counter(), time.process_time()
                    once()
                    if r:  # round 0 warms up
                        res[which][0].append((time.perf_counter() - w0) / calls)
                        res[which][1].append((time.process_time() - c0) / calls)
        finally:
            nn_rnn._LOCAL_THREADS = pin
        med = {k: (float(np.median(w)), float(np.median(c))) for k, (w, c) in res.items()}
        rows.append((label, med))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--lm-steps", type=int, default=10)
    ap.add_argument("--pin-ab", action="store_true",
                    help="only the OpenBLAS pin A/B (EMBER_RNN_BLAS_PIN on vs off)")
    args = ap.parse_args()
    if args.pin_ab:
        try:
            from threadpoolctl import threadpool_info
            blas = [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()]
        except ImportError:
            blas = "threadpoolctl not installed"
        print(f"numpy {np.__version__}, BLAS pools {blas}, OPENBLAS_NUM_THREADS="
              f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}; medians of interleaved rounds\n")
        print("| fwd+bwd | pin on: wall (ms) | pin off: wall (ms) | on / off wall | "
              "pin on: CPU (ms) | pin off: CPU (ms) | on / off CPU |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for label, med in pin_ab(args.repeats):
            (wn, cn), (wf, cf) = med["on"], med["off"]
            print(f"| {label} | {wn * 1e3:.1f} | {wf * 1e3:.1f} | {wn / wf:.2f}x | "
                  f"{cn * 1e3:.1f} | {cf * 1e3:.1f} | {cn / cf:.2f}x |")
        return
    import torch
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), {os.cpu_count()} CPUs; medians of interleaved runs\n")
    e, t = lstm_layer(torch, args.repeats)
    print("| LSTM 128->256, batch 64, 100 steps, fwd+bwd | ember (ms) | PyTorch (ms) | "
          "ember / PyTorch |")
    print("|---|---:|---:|---:|")
    print(f"| nn.LSTM | {e * 1e3:.1f} | {t * 1e3:.1f} | {e / t:.2f}x |\n")
    e, t = char_lm(torch, args.lm_steps)
    print("| char-LM training (V 75, LSTM 256, batch 32 x 100 chars) | ember | PyTorch | "
          "ember / PyTorch speed |")
    print("|---|---:|---:|---:|")
    print(f"| steps/s | {e:.2f} | {t:.2f} | {e / t:.2f}x |")


if __name__ == "__main__":
    main()
