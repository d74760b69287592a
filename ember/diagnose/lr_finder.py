"""Learning-rate range test (the "LR finder"): raise the learning rate exponentially from
``start_lr`` to ``end_lr`` over ``num_steps`` mini-batches, record the loss at each, stop when it
diverges, then put the model and the optimizer back exactly as they were."""
import math
from dataclasses import dataclass, field

import numpy as np

from ..tensor import Tensor
from .findings import Finding, fmt
from .stats import restore, snapshot


@dataclass
class LRFinderResult:
    """lrs, losses: the raw curve; smoothed: exponential moving average of the loss (bias
    corrected). min_loss_lr: lr at the lowest smoothed loss; steepest_lr: lr where the smoothed
    loss falls fastest per decade of lr; suggested_lr: min_loss_lr / 10 (the usual rule; the
    steepest point is a second opinion). diverged: the sweep stopped early because the loss
    blew up."""
    lrs: list
    losses: list
    smoothed: list
    min_loss_lr: float
    steepest_lr: float
    suggested_lr: float
    diverged: bool = False
    current_lr: float = None
    findings: list = field(default_factory=list)


def _batches(x, y, batch_size, rng):
    n = len(x)
    while True:
        idx = rng.permutation(n)
        for i in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            j = idx[i:i + batch_size]
            yield x[j], y[j]


def lr_find(model, x, y, loss_fn=None, optimizer=None, start_lr=1e-7, end_lr=10.0,
            num_steps=100, batch_size=64, smooth=0.9, diverge=4.0, seed=0):
    """Run the range test on arrays ``x``, ``y``; returns an :class:`LRFinderResult`.

    optimizer: the ember optimizer to test (its per-group lr ratios are kept; its state and
    learning rates are restored afterwards); default SGD with momentum 0.9.
    loss_fn: ``f(output, target)``; default ``F.cross_entropy``.
    """
    from .. import optim
    from .checks import _call_loss
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if x.dtype == np.float64:
        x = x.astype(np.float32)
    params = [p for p in model.parameters() if p.requires_grad]
    own = optimizer is None
    if own:
        optimizer = optim.SGD(params, lr=start_lr, momentum=0.9)
    current = None if own else float(optimizer.param_groups[0]["lr"])
    base = [float(g["lr"]) for g in optimizer.param_groups]
    mults = [b / base[0] if base[0] > 0 else 1.0 for b in base]
    model_snap = snapshot(model)
    opt_snap = None if own else optimizer.state_dict()
    grads = [(p, p.grad) for p in model.parameters()]
    was_training = model.training
    rng = np.random.default_rng(seed)
    lrs, losses, smoothed = [], [], []
    avg, best, diverged = 0.0, math.inf, False
    factor = (end_lr / start_lr) ** (1.0 / max(num_steps - 1, 1))
    try:
        model.train()
        batches = _batches(x, y, min(batch_size, len(x)), rng)
        lr = start_lr
        for t in range(num_steps):
            for g, m in zip(optimizer.param_groups, mults):
                g["lr"] = lr * m
            xb, yb = next(batches)
            loss = _call_loss(loss_fn, model(Tensor(xb)), Tensor(yb))
            lv = float(loss.data)
            lrs.append(lr)
            losses.append(lv)
            if not math.isfinite(lv):
                diverged = True
                smoothed.append(float("nan"))
                break
            avg = smooth * avg + (1 - smooth) * lv
            s = avg / (1 - smooth ** (t + 1))
            smoothed.append(s)
            best = min(best, s)
            if t > 5 and s > diverge * best:
                diverged = True
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            lr *= factor
    finally:
        restore(model, model_snap)
        model.train(was_training)
        for p, g in grads:
            p.grad = g
        if own:
            pass
        else:
            optimizer.load_state_dict(opt_snap)
            for g, b in zip(optimizer.param_groups, base):
                g["lr"] = b
    sm = np.array([v for v in smoothed if math.isfinite(v)])
    lr_arr = np.array(lrs[:len(sm)])
    if len(sm) == 0:
        res = LRFinderResult(lrs, losses, smoothed, float("nan"), float("nan"), float("nan"),
                             True, current)
        res.findings = [Finding("error", "lr_finder", "the loss was not finite even at the "
                                "smallest learning rate", suggestion="run under "
                                "ember.diagnose.detect_anomaly() to find the op")]
        return res
    i_min = int(sm.argmin())
    min_lr = float(lr_arr[i_min])
    if i_min >= 2:
        d = np.gradient(sm[:i_min + 1], np.log10(lr_arr[:i_min + 1]))
        steep = float(lr_arr[int(d.argmin())])
    else:
        steep = min_lr
    res = LRFinderResult(lrs, losses, smoothed, min_lr, steep, min_lr / 10, diverged, current)
    res.findings = lr_findings(res)
    return res


def lr_findings(res):
    out = []
    figs = {"min_loss_lr": res.min_loss_lr, "steepest_lr": res.steepest_lr,
            "suggested_lr": res.suggested_lr, "current_lr": res.current_lr}
    out.append(Finding(
        "info", "lr_finder",
        f"LR range test over {len(res.lrs)} steps ({fmt(res.lrs[0])} to {fmt(res.lrs[-1])}): the "
        f"loss falls fastest at lr {fmt(res.steepest_lr)} and is lowest at {fmt(res.min_loss_lr)}"
        + (", then diverges" if res.diverged else ""),
        suggestion=f"learning rate about {fmt(res.suggested_lr)} (lowest-loss lr / 10)",
        figures=figs))
    cur = res.current_lr
    if cur is not None and math.isfinite(res.min_loss_lr):
        if cur > res.min_loss_lr:
            out.append(Finding(
                "warning", "lr_too_high",
                f"the optimizer's learning rate {fmt(cur)} is above {fmt(res.min_loss_lr)}, where "
                "the range test's loss stops falling and starts to blow up",
                suggestion=f"use about {fmt(res.suggested_lr)}", figures=figs))
        elif cur < res.suggested_lr / 100:
            out.append(Finding(
                "warning", "lr_too_low",
                f"the optimizer's learning rate {fmt(cur)} is more than 100x below the range "
                f"test's suggestion {fmt(res.suggested_lr)}: training will crawl",
                suggestion=f"use about {fmt(res.suggested_lr)}", figures=figs))
    return out
