"""Reports: a self-contained HTML page (findings + plots embedded as base64 PNGs) and PNG files.
Plots need matplotlib (an optional extra: ``pip install matplotlib``); without it the HTML holds
the findings and a note, and :func:`save_pngs` prints a note and writes nothing."""
import base64
import html as _html
import io
import math
import os

import numpy as np

from .findings import format_findings, sort_findings

MISSING_MPL = ("plots skipped: matplotlib is not installed (pip install matplotlib, or "
               "pip install 'ember[plot]'); the text report above is complete without it")


def _pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend, or None when not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _short(label):
    return label if len(label) <= 18 else label[:17] + "…"


def plot_activations(plt, stats, title="activations"):
    """The lectures' figure: mean and std per layer, then a histogram per layer."""
    n = len(stats)
    cols = min(n, 10)
    rows = 1 + math.ceil(n / cols)
    fig = plt.figure(figsize=(2.0 * cols + 2, 2.2 * rows))
    gs = fig.add_gridspec(rows, cols)
    ax = fig.add_subplot(gs[0, : max(cols // 2, 1)])
    ax.plot(range(1, n + 1), [s.mean for s in stats], "o-")
    ax.set_title("layer mean")
    ax2 = fig.add_subplot(gs[0, max(cols // 2, 1):] if cols > 1 else gs[0, 0])
    ax2.plot(range(1, n + 1), [s.std for s in stats], "o-", color="C1")
    ax2.set_title("layer std")
    if all(s.std > 0 for s in stats) and max(s.std for s in stats) / \
            max(min(s.std for s in stats), 1e-30) > 100:
        ax2.set_yscale("log")
    for i, s in enumerate(stats):
        a = fig.add_subplot(gs[1 + i // cols, i % cols])
        counts, edges = s.hist
        a.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="C0")
        a.set_title(f"{i + 1}: {_short(s.layer)}", fontsize=8)
        a.tick_params(labelsize=6)
        a.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_loss(plt, losses, epochs=None):
    fig, ax = plt.subplots(figsize=(7, 3.5))
    L = np.asarray(losses, dtype=float)
    ax.plot(np.arange(len(L)), L, lw=1, label="training loss (per step)")
    if len(L) >= 20:
        k = max(len(L) // 20, 2)
        sm = np.convolve(np.nan_to_num(L), np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k - 1, len(L)), sm, lw=2, label=f"moving average ({k})")
    if np.all(L[np.isfinite(L)] > 0) and np.nanmax(L) / max(np.nanmin(L), 1e-30) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title("loss")
    fig.tight_layout()
    return fig


def plot_epochs(plt, epochs):
    keys = [k for k in ("loss", "val_loss", "accuracy", "val_accuracy") if k in epochs[-1]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for k in keys:
        ax = axes[0] if "loss" in k else axes[1]
        ax.plot(range(1, len(epochs) + 1), [e.get(k, np.nan) for e in epochs], "o-", label=k)
    for ax, t in zip(axes, ("loss per epoch", "accuracy per epoch")):
        ax.set_title(t)
        ax.set_xlabel("epoch")
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    return fig


def plot_lr_finder(plt, res):
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.semilogx(res.lrs, res.losses, lw=1, alpha=0.5, label="loss")
    ax.semilogx(res.lrs[:len(res.smoothed)], res.smoothed, lw=2, label="smoothed")
    for lr, lab, c in ((res.suggested_lr, "suggested", "C2"), (res.min_loss_lr, "min loss", "C3"),
                       (res.steepest_lr, "steepest", "C4")):
        if lr and math.isfinite(lr):
            ax.axvline(lr, ls="--", color=c, label=f"{lab} {lr:.2g}")
    fin = [v for v in res.smoothed if math.isfinite(v)]
    if fin:
        ax.set_ylim(min(fin) * 0.9, min(max(fin), 4 * min(fin)) * 1.1 + 1e-12)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.set_title("learning-rate range test")
    fig.tight_layout()
    return fig


def plot_params(plt, param_history):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    names = [p.name for p in param_history[-1][1] if len(p.shape) >= 2]
    for name in names:
        steps, ratio, norm = [], [], []
        for t, ps in param_history:
            for p in ps:
                if p.name == name:
                    steps.append(t)
                    ratio.append(p.update_ratio if p.update_ratio is not None else np.nan)
                    norm.append(p.norm)
        axes[0].plot(steps, ratio, "o-", ms=3, label=name)
        axes[1].plot(steps, norm, "o-", ms=3, label=name)
    axes[0].axhline(1e-3, color="k", ls="--", lw=1, label="~1e-3 healthy")
    for ax, t in zip(axes, ("update / weight ratio", "gradient norm")):
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(t)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def figures(doctor):
    """{name: matplotlib Figure} for what the doctor has measured; {} without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return {}
    figs = {}
    if doctor.init_stats:
        figs["activations_init"] = plot_activations(plt, doctor.init_stats,
                                                    "activations at initialization")
    latest = doctor.monitor.latest()
    if latest:
        figs["activations_training"] = plot_activations(
            plt, latest, f"activations at step {latest[-1].step}")
    if doctor.losses:
        figs["loss"] = plot_loss(plt, doctor.losses)
    if len(doctor.epochs) >= 1:
        figs["epochs"] = plot_epochs(plt, doctor.epochs)
    if doctor.param_history:
        figs["update_ratio"] = plot_params(plt, doctor.param_history)
    if doctor.lr_result is not None and doctor.lr_result.lrs:
        figs["lr_finder"] = plot_lr_finder(plt, doctor.lr_result)
    return figs


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def save_pngs(doctor, directory):
    """Write the plots as ``directory/<name>.png``; returns the paths ([] and a printed note
    when matplotlib is missing)."""
    figs = figures(doctor)
    if not figs and _pyplot() is None:
        print(MISSING_MPL)
        return []
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, fig in figs.items():
        p = os.path.join(directory, name + ".png")
        with open(p, "wb") as f:
            f.write(_png(fig))
        paths.append(p)
    return paths


_COLORS = {"error": "#b00020", "warning": "#b26a00", "info": "#1f5fa8", "ok": "#2e7d32"}


def html_report(doctor, findings=None, title="ember doctor report"):
    """The report as one self-contained HTML string (plots embedded as base64 PNGs)."""
    findings = sort_findings(doctor.diagnose() if findings is None else findings)
    esc = _html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "li{margin:.6em 0}.s{font-weight:bold}.try{color:#444}"
             "pre{background:#f5f5f5;padding:1em;overflow:auto}</style></head><body>",
             f"<h1>{esc(title)}</h1><h2>Findings</h2><ul>"]
    for f in findings:
        where = f" [{esc(f.layer)}]" if f.layer else ""
        at = f" (step {f.step})" if f.step is not None else ""
        parts.append(f"<li><span class='s' style='color:{_COLORS[f.severity]}'>"
                     f"{f.severity.upper()}</span> <b>{esc(f.check)}</b>{where}{at}: "
                     f"{esc(f.message)}")
        if f.suggestion:
            parts.append(f"<br><span class='try'>try: {esc(f.suggestion)}</span>")
        parts.append("</li>")
    parts.append("</ul>")
    figs = figures(doctor)
    if figs:
        parts.append("<h2>Plots</h2>")
        for name, fig in figs.items():
            b64 = base64.b64encode(_png(fig)).decode("ascii")
            parts.append(f"<h3>{esc(name.replace('_', ' '))}</h3>"
                         f"<img alt='{esc(name)}' src='data:image/png;base64,{b64}'>")
    elif _pyplot() is None:
        parts.append(f"<p><i>{esc(MISSING_MPL)}</i></p>")
    parts.append("<h2>Text report</h2><pre>" + esc(format_findings(findings)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(doctor, path, findings=None):
    """Write :func:`html_report` to ``path``; prints a note when plots are skipped."""
    text = html_report(doctor, findings)
    if _pyplot() is None:
        print(MISSING_MPL)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
