"""Measurements: per-layer activation statistics through forward hooks, per-parameter gradient
statistics and update-to-weight ratios. Nothing here runs unless a monitor is attached, and an
attached monitor only computes on sampled steps (its hooks return at once otherwise)."""
from dataclasses import dataclass

import numpy as np

#: activation modules, by class name -> how saturation is measured (None: not applicable)
ACTIVATIONS = {
    "ReLU": None, "ReLU6": None, "LeakyReLU": None, "PReLU": None, "ELU": None, "SELU": None,
    "CELU": None, "GELU": None, "SiLU": None, "Mish": None, "Softplus": None,
    "Tanh": "tanh", "Sigmoid": "sigmoid", "Hardtanh": "tanh", "Hardsigmoid": "sigmoid",
    "Softsign": "tanh", "Tanhshrink": None, "Maxout": None,
}
#: activations whose units can die (output exactly 0 for every input)
RELU_LIKE = {"ReLU", "ReLU6"}


def layer_label(name, module):
    """How findings name a layer: ``"3 (ReLU)"``, ``"encoder.fc1 (Linear)"``."""
    return f"{name or '<model>'} ({type(module).__name__})"


def watched_layers(model, layers="auto"):
    """(name, module) pairs to watch: the activation modules when the model has any (the
    lectures' statistics are of activation outputs), else every leaf module."""
    named = [(n, m) for n, m in model.named_modules()]
    if layers not in ("auto", "activations", "leaves", "all"):
        wanted = set(layers)
        return [(n, m) for n, m in named if n in wanted]
    leaves = [(n, m) for n, m in named if not m._modules]
    acts = [(n, m) for n, m in leaves if type(m).__name__ in ACTIVATIONS]
    if layers == "activations" or (layers == "auto" and acts):
        return acts
    if layers == "all":
        return [(n, m) for n, m in named if n]
    return leaves


@dataclass
class ActivationStats:
    """Statistics of one layer's output on one batch.

    mean, std: over all elements. zero_frac: fraction of elements exactly 0. dead_frac: fraction
    of units (output positions other than the batch dim) that are 0 for every sample in the
    batch. sat_frac: fraction saturated (|tanh| > 0.99; sigmoid < 0.01 or > 0.99), None when the
    layer does not saturate. hist: (counts, bin edges).
    """
    layer: str
    kind: str
    mean: float
    std: float
    zero_frac: float
    dead_frac: float
    sat_frac: float
    hist: tuple
    step: int = None
    absmax: float = 0.0
    finite: bool = True


def activation_stats(out, layer="", kind="", step=None, bins=50, hist_max=8192):
    """``ActivationStats`` of an output array ``out`` (batch first). The histogram is taken over
    at most ``hist_max`` evenly strided elements (it is for the plots; the other figures use
    every element)."""
    a = np.asarray(out)
    if a.dtype.kind != "f":
        a = a.astype(np.float32)
    fin = bool(np.isfinite(a).all())
    if not fin:
        a = np.where(np.isfinite(a), a, 0)
    n_el = a.size
    n = a.shape[0] if a.ndim > 1 else 1
    if n_el:
        lo, hi = float(a.min()), float(a.max())
        mean = float(a.sum()) / n_el
        flat = a.reshape(-1)
        var = max(float(np.dot(flat, flat)) / n_el - mean * mean, 0.0)
        nonzero = np.count_nonzero(a)
        alive = np.count_nonzero(a.reshape(n, -1).any(axis=0))
        dead = 1.0 - alive / (n_el // n)
    else:
        lo, hi, mean, var, nonzero, dead = 0.0, 1.0, 0.0, 0.0, 0, 0.0
    sat = None
    how = ACTIVATIONS.get(kind)
    if how == "tanh":
        sat = float(np.count_nonzero(np.abs(a) > 0.99)) / max(n_el, 1)
        hlo, hhi = -1.0, 1.0
    elif how == "sigmoid":
        sat = float(np.count_nonzero((a < 0.01) | (a > 0.99))) / max(n_el, 1)
        hlo, hhi = 0.0, 1.0
    else:
        hlo, hhi = lo, hi
    if hhi <= hlo:
        hlo, hhi = hlo - 0.5, hhi + 0.5
    sample = a.reshape(-1)[::max(1, n_el // hist_max)] if n_el else a.reshape(-1)
    counts, edges = np.histogram(sample, bins=bins, range=(hlo, hhi))
    return ActivationStats(layer=layer, kind=kind, mean=mean, std=float(np.sqrt(var)),
                           zero_frac=1.0 - nonzero / max(n_el, 1), dead_frac=float(dead),
                           sat_frac=sat, hist=(counts, edges), step=step,
                           absmax=max(abs(lo), abs(hi)), finite=fin)


class ActivationMonitor:
    """Forward hooks on the watched layers that record :class:`ActivationStats` while
    ``sampling`` is True. ``attach()`` / ``detach()`` add and remove the hooks (detached: no
    cost at all); attached but not sampling: one attribute test per layer call.

    ``history[label]`` is a list of ActivationStats, oldest first; ``latest()`` gives the last
    record of every layer, in network order.
    """

    def __init__(self, model, layers="auto", bins=50, keep=200):
        self.model = model
        self.layers = watched_layers(model, layers)
        self.labels = [layer_label(n, m) for n, m in self.layers]
        self.bins = bins
        self.keep = keep
        self.sampling = False
        self.step = None
        self.history = {lab: [] for lab in self.labels}
        self._handles = []

    def attach(self):
        if self._handles:
            return self
        for (name, mod), label in zip(self.layers, self.labels):
            self._handles.append(mod.register_forward_hook(self._hook(label, type(mod).__name__)))
        return self

    def detach(self):
        for h in self._handles:
            h.remove()
        self._handles = []
        self.sampling = False

    def _hook(self, label, kind):
        hist = self.history

        def hook(module, inputs, output):
            if not self.sampling:
                return None
            if isinstance(output, tuple) and output:  # RNN/LSTM/GRU: (output, state)
                output = output[0]
            data = getattr(output, "data", None)
            if isinstance(data, tuple) and data:      # a PackedSequence's .data is a Tensor
                data = getattr(data[0], "data", None)
            if not isinstance(data, np.ndarray):
                return None
            rec = hist[label]
            # one record per layer per sampled step (a layer reused twice keeps the first)
            if rec and rec[-1].step == self.step and self.step is not None:
                return None
            rec.append(activation_stats(data, label, kind, self.step, self.bins))
            if len(rec) > self.keep:
                del rec[1]  # keep the first record: "rising" checks compare with it
            return None
        return hook

    def latest(self):
        return [self.history[lab][-1] for lab in self.labels if self.history[lab]]

    def first(self):
        return [self.history[lab][0] for lab in self.labels if self.history[lab]]

    def __enter__(self):
        return self.attach()

    def __exit__(self, *exc):
        self.detach()


def snapshot(model):
    """A copy of every parameter and persistent buffer, to restore with :func:`restore` (the
    ``state_dict`` values, copied)."""
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def restore(model, snap):
    model.load_state_dict(snap)


@dataclass
class ParamStats:
    """Gradient statistics of one parameter at one step; ``update_ratio`` = ||dW|| / ||W|| for
    the step's update (None when unknown)."""
    name: str
    shape: tuple
    norm: float
    mean: float
    std: float
    weight_norm: float
    update_ratio: float = None
    step: int = None
    finite: bool = True


def _norm(a):
    f = a.reshape(-1)
    return float(np.sqrt(abs(np.dot(f, f))))


def grad_stats(named_params, before=None, step=None):
    """ParamStats of every parameter with a gradient; ``before`` maps name -> weight array
    before the last update (for the update/weight ratio). One pass over each array per figure
    (BLAS dot products), so a sampled step costs about as much as an optimizer step."""
    out = []
    for name, p in named_params:
        g = p.grad
        if g is None:
            continue
        ga = g.data if hasattr(g, "data") else np.asarray(g)
        w = p.data
        gn = _norm(ga)
        fin = np.isfinite(gn)
        n = max(ga.size, 1)
        mean = float(ga.sum()) / n if fin else float("nan")
        std = float(np.sqrt(max(gn * gn / n - mean * mean, 0.0))) if fin else float("nan")
        ratio = None
        if before is not None and name in before:
            prev = _norm(before[name])
            ratio = _norm(w - before[name]) / prev if prev > 0 else None
        out.append(ParamStats(name, tuple(w.shape), gn if fin else float("inf"), mean, std,
                              _norm(w), ratio, step, bool(fin)))
    return out
