"""Per-op profile of the README MLP step (784-512-10, ReLU, softmax cross-entropy, RMSprop,
batch 128), the hand loop and ``Model.fit`` the Keras way, on random Fashion-MNIST-shaped data.

    PYTHONPATH=. .venv/bin/python bench/prof_mlp.py [--samples 20000] [--fit]

Every primitive's forward and backward is wrapped with a timer; the loop's phases (loading,
forward, backward, optimizer step) are timed around them. Times are per batch, from one epoch
after a warm-up epoch. The wrappers add a little to each op (~1 us): compare phases and ops
within one run, not with the benchmark's epoch times.
"""
import argparse
import collections
import time

import numpy as np

T = collections.defaultdict(float)


def _wrap_primitives():
    from ember.ops.function import Function
    for m in ("elementwise", "nn_activation", "nn_layers", "nn_loss", "linalg", "shape",
              "reduce", "index"):
        __import__("ember.ops." + m)

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    for cls in set(subclasses(Function)):
        if "forward" not in cls.__dict__:
            continue
        f, b, name = cls.forward, cls.backward, cls.__name__

        def fw(ctx, *a, _f=f, _n=name + ".fw", **k):
            t = time.perf_counter()
            r = _f(ctx, *a, **k)
            T[_n] += time.perf_counter() - t
            return r

        def bw(ctx, *a, _b=b, _n=name + ".bw", **k):
            t = time.perf_counter()
            r = _b(ctx, *a, **k)
            T[_n] += time.perf_counter() - t
            return r
        cls.forward, cls.backward = staticmethod(fw), staticmethod(bw)


def hand_epoch(x, y):
    import ember
    from ember import nn
    from ember.nn import functional as F
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = ember.optim.RMSprop(model.parameters(), lr=1e-3)
    loader = ember.data.DataLoader(ember.data.TensorDataset(x, y), batch_size=128, shuffle=True)

    def epoch():
        it = iter(loader)
        while True:
            t0 = time.perf_counter()
            try:
                xb, yb = next(it)
            except StopIteration:
                return
            t1 = time.perf_counter()
            loss = F.cross_entropy(model(xb), yb)
            t2 = time.perf_counter()
            opt.zero_grad()
            loss.backward()
            t3 = time.perf_counter()
            opt.step()
            t4 = time.perf_counter()
            T["~load"] += t1 - t0
            T["~forward"] += t2 - t1
            T["~backward"] += t3 - t2
            T["~optimizer"] += t4 - t3
    return epoch


def fit_epoch(x, y):
    from ember.keras import layers, models, utils
    net = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                             layers.Dense(10, activation="softmax")])
    net.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    yc = utils.to_categorical(y, 10)
    model_cls = type(net)

    def step(self, xb, yb):  # Model._tensor_step with phase timers
        t0 = time.perf_counter()
        out = self(xb)
        t1 = time.perf_counter()
        loss = self.loss_fn(out, yb)
        t2 = time.perf_counter()
        self.optimizer.zero_grad()
        loss.backward()
        t3 = time.perf_counter()
        self.optimizer.step()
        t4 = time.perf_counter()
        T["~forward (model)"] += t1 - t0
        T["~forward (loss)"] += t2 - t1
        T["~backward"] += t3 - t2
        T["~optimizer"] += t4 - t3
        return loss, out
    model_cls._tensor_step = step

    def epoch():
        t = time.perf_counter()
        net.fit(x, yc, epochs=1, batch_size=128, verbose=0)
        T["~fit total"] += time.perf_counter() - t
    return epoch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--fit", action="store_true", help="profile Model.fit instead of the hand loop")
    a = ap.parse_args()
    import warnings
    warnings.simplefilter("ignore")  # random labels: the loss watch may warn
    _wrap_primitives()
    rng = np.random.default_rng(0)
    x = rng.random((a.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, a.samples)
    epoch = (fit_epoch if a.fit else hand_epoch)(x, y)
    epoch()
    T.clear()
    t = time.perf_counter()
    epoch()
    total = time.perf_counter() - t
    nb = -(-a.samples // 128)
    print(f"{'Model.fit' if a.fit else 'hand loop'}: {total:.3f} s for {a.samples} samples "
          f"({total / a.samples * 60000:.3f} s per 60000); {total / nb * 1e3:.3f} ms per batch")
    for k, v in sorted(T.items(), key=lambda kv: -kv[1]):
        print(f"  {k:32s} {v / nb * 1e3:8.3f} ms/batch")


if __name__ == "__main__":
    main()
