"""The checks: each turns measurements into :class:`Finding` s in plain language (the figure,
the layer, why it matters, what to try)."""
import math

import numpy as np

from ..tensor import Tensor
from .findings import Finding, fmt
from .stats import ACTIVATIONS, RELU_LIKE, grad_stats, restore, snapshot

# thresholds (module constants so users and tests can read them)
DEAD_WARN = 0.25        # fraction of dead ReLU units in a layer that is reported
DEAD_ERROR = 0.5
SAT_WARN = 0.25         # fraction of saturated tanh/sigmoid outputs that is reported
SAT_ERROR = 0.5
SHRINK_WARN = 0.1       # last/first activation std over the depth of the net
VANISH_ERROR = 1e-3
GROW_WARN = 10.0
RATIO_LOW, RATIO_HIGH = 1e-5, 1e-1   # update/weight ratio: ~1e-3 is healthy
GRAD_VANISH, GRAD_EXPLODE = 1e-3, 1e3  # input-side / output-side gradient norm


def _init_advice(kind):
    if kind in ("Tanh", "Sigmoid", "Hardtanh", "Softsign", "Hardsigmoid"):
        return ("use Xavier initialization (nn.init.xavier_normal_(layer.weight): std = "
                "sqrt(2 / (fan_in + fan_out))), or add BatchNorm before the activations")
    return ("use He initialization (nn.init.kaiming_normal_(layer.weight, nonlinearity='relu'), "
            "std = sqrt(2/fan_in)), or add BatchNorm before the activations")


def activation_findings(stats, when="at initialization", check="activations"):
    """Findings from one forward pass's per-layer :class:`ActivationStats` (network order):
    non-finite outputs, dead ReLU units, saturation, and the trend of the std with depth
    (collapse toward zero, or explosion)."""
    out = []
    problems = False
    for s in stats:
        if not s.finite:
            out.append(Finding("error", check, f"layer output contains NaN/Inf {when}",
                               layer=s.layer, suggestion="run under ember.diagnose.detect_anomaly()"
                               " to find the op that produced it", figures={"finite": False}))
            problems = True
    dead_layers = [s for s in stats if s.kind in RELU_LIKE and s.dead_frac >= DEAD_WARN]
    for s in dead_layers:
        sev = "error" if s.dead_frac >= DEAD_ERROR else "warning"
        out.append(Finding(
            sev, "dead_units",
            f"{s.dead_frac:.0%} of the units are dead {when} (output 0 for every sample of the "
            f"batch; mean {fmt(s.mean)}): they pass no gradient, so they never learn",
            layer=s.layer,
            suggestion="check the bias and weight initialization of the layer before it (a large "
                       "negative bias kills ReLUs: initialize biases to 0 or a small positive "
                       "value), lower the learning rate, or use LeakyReLU",
            figures={"dead_frac": s.dead_frac, "mean": s.mean, "std": s.std}))
        problems = True
    sat = [s for s in stats if s.sat_frac is not None and s.sat_frac >= SAT_WARN]
    if sat:
        worst = max(sat, key=lambda s: s.sat_frac)
        sev = "error" if worst.sat_frac >= SAT_ERROR else "warning"
        bound = "|y| > 0.99" if ACTIVATIONS.get(worst.kind) == "tanh" else "y < 0.01 or y > 0.99"
        out.append(Finding(
            sev, "saturation",
            f"{worst.sat_frac:.0%} of the outputs are saturated ({bound}) {when}, in {len(sat)} of "
            f"{len(stats)} layers (first: {sat[0].layer}): the local gradient of a saturated "
            f"{worst.kind} is ~0, so almost no gradient flows back and learning stalls",
            layer=worst.layer,
            suggestion="weights are too large: " + _init_advice(worst.kind) +
                       "; also normalize the inputs (zero mean, unit variance)",
            figures={"sat_frac": {s.layer: s.sat_frac for s in sat}}))
        problems = True
    acts = [s for s in stats if s.kind in ACTIVATIONS and s.finite]
    if len(acts) >= 3:
        first, last = acts[0], acts[-1]
        kind = last.kind
        ratio = last.std / first.std if first.std > 0 else 0.0
        stds = {s.layer: s.std for s in acts}
        n = len(acts)
        if ratio < VANISH_ERROR or (last.std < 1e-4 and first.std > 1e-3):
            out.append(Finding(
                "error", "vanishing_activations",
                f"activation std falls from {fmt(first.std)} at layer 1 [{first.layer}] to "
                f"{fmt(last.std)} at layer {n} [{last.layer}] {when}: the signal collapses toward "
                f"zero, so the gradients of the weights (input x upstream gradient) vanish too. "
                f"Weights too small for a {n}-layer {kind} net",
                layer=last.layer, suggestion=_init_advice(kind),
                figures={"std": stds, "ratio": ratio}))
            problems = True
        elif ratio < SHRINK_WARN:
            out.append(Finding(
                "warning", "shrinking_activations",
                f"activation std shrinks from {fmt(first.std)} at layer 1 [{first.layer}] to "
                f"{fmt(last.std)} at layer {n} [{last.layer}] {when}, a factor "
                f"{fmt(ratio ** (1 / (n - 1)))} per layer: deeper layers see ever smaller inputs"
                + (" (each ReLU halves the variance when weights have std 1/sqrt(fan_in) -- "
                   "LeCun's init, which Xavier's sqrt(2 / (fan_in + fan_out)) equals for square "
                   "layers -- so the signal shrinks by sqrt(2) per layer)"
                   if kind in RELU_LIKE else ""),
                layer=last.layer, suggestion=_init_advice(kind),
                figures={"std": stds, "ratio": ratio}))
            problems = True
        elif ratio > GROW_WARN and last.std > 10:
            out.append(Finding(
                "error", "exploding_activations",
                f"activation std grows from {fmt(first.std)} at layer 1 [{first.layer}] to "
                f"{fmt(last.std)} at layer {n} [{last.layer}] {when}: weights too large, outputs "
                "and gradients will overflow",
                layer=last.layer, suggestion="weights are too large: " + _init_advice(kind),
                figures={"std": stds, "ratio": ratio}))
            problems = True
    if not problems and stats:
        desc = (f"std {fmt(acts[0].std)} -> {fmt(acts[-1].std)} over {len(acts)} activation layers"
                if acts else f"{len(stats)} layers")
        out.append(Finding("ok", check, f"activations healthy {when}: {desc}, no saturation, no "
                                        "dead units", figures={"std": {s.layer: s.std
                                                                      for s in stats}}))
    return out


def is_classification(loss_fn, loss_name=None):
    name = (loss_name or getattr(loss_fn, "__name__", "") or "").lower()
    return loss_fn is None or "cross" in name or "nll" in name


def initial_loss_finding(loss, num_classes):
    """Compare the loss at initialization with the chance value ln(C) of a C-class softmax
    cross-entropy (2.303 for 10 classes)."""
    expected = math.log(num_classes)
    figs = {"loss": loss, "expected": expected, "num_classes": num_classes}
    if not math.isfinite(loss):
        return Finding("error", "initial_loss", f"the loss at initialization is {fmt(loss)}",
                       suggestion="run under ember.diagnose.detect_anomaly() to find the op that "
                                  "produced it; check the inputs for NaN", figures=figs)
    if loss > 1.5 * expected + 0.1:
        return Finding(
            "warning", "initial_loss",
            f"initial loss {fmt(loss)} is well above the chance value ln({num_classes}) = "
            f"{expected:.3f}: at initialization the network is already confidently wrong (its "
            "outputs are large), which slows the start of training",
            suggestion="scale down the initialization (especially the last layer), normalize the "
                       "inputs (e.g. x / 255 for images), and check the loss gets logits",
            figures=figs)
    if loss < 0.5 * expected:
        return Finding(
            "warning", "initial_loss",
            f"initial loss {fmt(loss)} is far below the chance value ln({num_classes}) = "
            f"{expected:.3f} before any training",
            suggestion="check for labels leaking into the inputs, or a loss that is not a mean "
                       "over the batch", figures=figs)
    return Finding("ok", "initial_loss",
                   f"initial loss {fmt(loss)} matches the chance value ln({num_classes}) = "
                   f"{expected:.3f}", figures=figs)


def gradient_findings(param_stats, when="at initialization"):
    """Vanishing / exploding gradients: the weight-gradient norms of the first (input-side)
    and last (output-side) layers; non-finite gradients."""
    out = []
    bad = [p for p in param_stats if not p.finite]
    if bad:
        out.append(Finding("error", "nonfinite_gradients",
                           f"gradients of {len(bad)} parameters contain NaN/Inf {when} (first: "
                           f"{bad[0].name})", layer=bad[0].name,
                           suggestion="lower the learning rate; run under "
                                      "ember.diagnose.detect_anomaly() to find the op"))
        return out
    w = [p for p in param_stats if len(p.shape) >= 2]
    if len(w) >= 3:
        first, last = w[0], w[-1]
        if last.norm > 0:
            r = first.norm / last.norm
            figs = {"grad_norm": {p.name: p.norm for p in w}, "ratio": r}
            if r < GRAD_VANISH:
                out.append(Finding(
                    "warning", "vanishing_gradients",
                    f"gradient norm {fmt(first.norm)} at the first layer ({first.name}) vs "
                    f"{fmt(last.norm)} at the last ({last.name}) {when}: gradients shrink by "
                    f"{fmt(1 / r)}x toward the input, so the early layers barely learn",
                    layer=first.name,
                    suggestion="use ReLU instead of sigmoid/tanh, He/Xavier initialization, "
                               "BatchNorm, or residual connections", figures=figs))
            elif r > GRAD_EXPLODE:
                out.append(Finding(
                    "warning", "exploding_gradients",
                    f"gradient norm {fmt(first.norm)} at the first layer ({first.name}) vs "
                    f"{fmt(last.norm)} at the last ({last.name}) {when}: gradients grow by "
                    f"{fmt(r)}x toward the input",
                    layer=first.name,
                    suggestion="smaller initial weights (Xavier/He), gradient clipping "
                               "(nn.utils.clip_grad_norm_), a lower learning rate, BatchNorm",
                    figures=figs))
    return out


def _labels(y):
    y = y.data if isinstance(y, Tensor) else np.asarray(y)
    return y.argmax(-1) if y.ndim > 1 else y


def _call_loss(loss_fn, out, y):
    if loss_fn is None:
        from ..nn import functional as F
        return F.cross_entropy(out, y)
    return loss_fn(out, y)


def overfit_tiny(model, x, y, loss_fn=None, n=20, steps=200, lr=1e-3, target_loss=0.05,
                 optimizer=None):
    """The lectures' sanity check: train on the first ``n`` examples with no regularization
    (dropout off, no weight decay, Adam at ``lr``, full batch); a healthy model reaches 100%
    training accuracy and a near-zero loss. The model's weights (and buffers) are restored
    afterwards. Returns ``(finding, result)`` where ``result`` has the loss curve."""
    from .. import optim
    xs = x[:n] if not isinstance(x, Tensor) else x.data[:n]
    ys = y[:n] if not isinstance(y, Tensor) else y.data[:n]
    xs = np.asarray(xs)
    if xs.dtype == np.float64:
        xs = xs.astype(np.float32)
    xt, yt = Tensor(xs), Tensor(np.asarray(ys))
    labels = _labels(ys)
    params = [p for p in model.parameters() if p.requires_grad]
    frozen = [nm for nm, p in model.named_parameters() if not p.requires_grad]
    result = {"losses": [], "accuracy": 0.0, "steps": 0, "n": len(xs)}
    if not params:
        f = Finding("error", "overfit_tiny", "the model has no trainable parameters",
                    suggestion="set requires_grad=True on the parameters to train")
        return f, result
    snap = snapshot(model)
    drops = [(m, m.p) for m in model.modules() if type(m).__name__.startswith("Dropout")
             and hasattr(m, "p")]
    was_training = model.training
    grads = [(p, p.grad) for p in model.parameters()]
    try:
        for m, _ in drops:
            m.p = 0.0
        model.train()
        opt = optimizer(params) if callable(optimizer) else optim.Adam(params, lr=lr)
        acc, lv = 0.0, float("nan")
        for t in range(steps):
            out = model(xt)
            loss = _call_loss(loss_fn, out, yt)
            lv = float(loss.data)
            acc = float((out.data.reshape(len(xs), -1).argmax(-1) == labels).mean())
            result["losses"].append(lv)
            if not math.isfinite(lv) or (acc == 1.0 and lv < target_loss):
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
        result.update(accuracy=acc, loss=lv, steps=len(result["losses"]))
    finally:
        for m, p in drops:
            m.p = p
        restore(model, snap)
        model.train(was_training)
        for p, g in grads:
            p.grad = g
    l0 = result["losses"][0]
    figs = {"accuracy": acc, "loss": lv, "initial_loss": l0, "steps": result["steps"], "n": len(xs)}
    if acc == 1.0 and lv < max(target_loss, 0.1 * l0):
        return Finding("ok", "overfit_tiny",
                       f"overfits {len(xs)} examples: 100% training accuracy, loss {fmt(l0)} -> "
                       f"{fmt(lv)} in {result['steps']} steps", figures=figs), result
    why = []
    if frozen:
        why.append(f"{len(frozen)} parameter(s) are frozen (requires_grad=False: "
                   f"{', '.join(frozen[:4])}{'...' if len(frozen) > 4 else ''})")
    zero = [nm for nm, p in model.named_parameters() if p.data.ndim >= 2 and not p.data.any()]
    if zero:
        why.append(f"weights all zero in {', '.join(zero[:4])}")
    msg = (f"cannot overfit {len(xs)} examples: after {result['steps']} steps of Adam (lr "
           f"{fmt(lr)}, no regularization) training accuracy is {acc:.0%} and the loss "
           f"{fmt(l0)} -> {fmt(lv)}; a healthy model reaches 100% and ~0. Something is broken "
           "before any tuning matters")
    if why:
        msg += " — " + "; ".join(why)
    return Finding("error", "overfit_tiny", msg,
                   suggestion="check that every layer is trainable and not stuck at zero, that "
                              "the forward pass uses its input, that labels match the inputs, "
                              "and that the loss receives logits",
                   figures=figs), result


def init_measurements(model, monitor, x, y=None, loss_fn=None):
    """One forward (and backward when ``y`` is given) pass at initialization with ``monitor``
    sampling; returns ``(activation stats, param stats, loss or None, output)``. Gradients
    already on the parameters are left as they were."""
    xs = x.data if isinstance(x, Tensor) else np.asarray(x)
    if xs.dtype == np.float64:
        xs = xs.astype(np.float32)
    grads = [(p, p.grad) for p in model.parameters()]
    attached = bool(monitor._handles)
    monitor.attach()
    monitor.sampling, monitor.step = True, -1
    for lab in monitor.labels:
        monitor.history[lab] = [s for s in monitor.history[lab] if s.step != -1]
    try:
        for p, _ in grads:
            p.grad = None
        out = model(Tensor(xs))
        monitor.sampling = False
        loss = None
        pstats = []
        if y is not None:
            lt = _call_loss(loss_fn, out, Tensor(np.asarray(y.data if isinstance(y, Tensor)
                                                            else y)))
            loss = float(lt.data)
            if lt.requires_grad:
                lt.backward()
                pstats = grad_stats(model.named_parameters(), step=-1)
    finally:
        monitor.sampling = False
        if not attached:
            monitor.detach()
        for p, g in grads:
            p.grad = g
    stats = []
    for lab in monitor.labels:  # taken out of the training history
        h = monitor.history[lab]
        stats += [s for s in h if s.step == -1]
        monitor.history[lab] = [s for s in h if s.step != -1]
    return stats, pstats, loss, out
