"""What a search found: a table of trials (best first), a CSV, and plots — the lectures'
scatter of the validation metric against each hyperparameter (log axes for log-scaled ones),
the optimisation history, and a parallel-coordinates view."""
import csv
import math
import os

from ._optuna import optuna
from .space import IntRange, LogUniform

_STATES = optuna.trial.TrialState


def _real(study):
    """The trials that ran (not those cancelled unrun because their stage was already full)."""
    from .study import SURPLUS_PREFIX
    return [t for t in study.trials
            if not str(t.user_attrs.get("stage", "")).startswith(SURPLUS_PREFIX)]


def sorted_trials(study):
    """All trials that ran: finished ones best first, then pruned, failed and running ones."""
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    trials = _real(study)
    done = [t for t in trials if t.state == _STATES.COMPLETE and t.value is not None]
    done.sort(key=lambda t: t.value, reverse=maximize)
    rest = [t for t in trials if t not in done]
    return done + rest


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def rows(study, metric="value"):
    names = sorted({k for t in _real(study) for k in t.params})
    out = []
    for t in sorted_trials(study):
        r = {"trial": t.number, "stage": t.user_attrs.get("stage", ""), "state": t.state.name,
             metric: t.value if t.state == _STATES.COMPLETE and t.value is not None else ""}
        r.update({n: t.params.get(n, "") for n in names})
        r["seed"] = t.user_attrs.get("seed", "")
        r["epochs"] = t.user_attrs.get("epochs", "")
        out.append(r)
    return out


def table(study, metric="value", limit=None) -> str:
    """A plain-text table of the trials, best first."""
    rs = rows(study, metric)[:limit]
    if not rs:
        return "(no trials)"
    cols = list(rs[0])
    text = [[_fmt(r[c]) for c in cols] for r in rs]
    width = [max(len(c), *(len(row[i]) for row in text)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, width))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, width)) for row in text]
    return "\n".join([line, "-" * len(line)] + body)


def write_csv(study, path, metric="value"):
    rs = rows(study, metric)
    with open(path, "w", newline="") as f:
        if not rs:
            return path
        w = csv.DictWriter(f, fieldnames=list(rs[0]))
        w.writeheader()
        w.writerows(rs)
    return path


def plot(study, out_dir, space=None, metric="value"):
    """PNG plots (and report.html showing them) in ``out_dir``; returns the file paths, or []
    when matplotlib is not installed (a message says so)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("ember search: plots need matplotlib (pip install 'ember[plot]'); table and CSV "
              "written without them")
        return []
    os.makedirs(out_dir, exist_ok=True)
    done = [t for t in _real(study) if t.state == _STATES.COMPLETE and t.value is not None
            and math.isfinite(t.value)]
    names = sorted({k for t in _real(study) for k in t.params})
    stages = list(dict.fromkeys(t.user_attrs.get("stage", "") for t in done))
    files = []

    numeric = [n for n in names if all(isinstance(t.params.get(n), (int, float))
                                       and not isinstance(t.params.get(n), bool)
                                       for t in done if n in t.params)]
    if numeric and done:
        fig, axes = plt.subplots(1, len(numeric), figsize=(4.2 * len(numeric), 3.6),
                                 squeeze=False)
        for ax, n in zip(axes[0], numeric):
            for s in stages:
                ts = [t for t in done if t.user_attrs.get("stage", "") == s and n in t.params]
                ax.scatter([t.params[n] for t in ts], [t.value for t in ts], label=s or None,
                           alpha=0.8)
            dim = (space or {}).get(n)
            if isinstance(dim, LogUniform) or (isinstance(dim, IntRange) and dim.log) or (
                    dim is None and _looks_log([t.params[n] for t in done if n in t.params])):
                ax.set_xscale("log")
            ax.set_xlabel(n)
            ax.set_ylabel(metric)
        if len(stages) > 1:
            axes[0][0].legend(title="stage")
        fig.tight_layout()
        files.append(_save(fig, out_dir, "scatter.png"))

    if study.trials:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        xs = [t.number for t in done]
        ax.scatter(xs, [t.value for t in done], s=14, label="trial")
        best, bests = None, []
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        for t in sorted(done, key=lambda t: t.number):
            if best is None or (t.value > best if maximize else t.value < best):
                best = t.value
            bests.append(best)
        ax.step(sorted(xs), bests, where="post", color="C3", label="best so far")
        ax.set_xlabel("trial")
        ax.set_ylabel(metric)
        ax.legend()
        fig.tight_layout()
        files.append(_save(fig, out_dir, "history.png"))

    if numeric and len(done) > 1:
        fig, ax = plt.subplots(figsize=(1.8 * (len(numeric) + 1) + 2, 3.8))
        cols = numeric + [metric]
        vals = {n: [_scale(t.params[n], (space or {}).get(n)) for t in done] for n in numeric}
        vals[metric] = [t.value for t in done]
        norm = {}
        for c in cols:
            lo, hi = min(vals[c]), max(vals[c])
            norm[c] = [(v - lo) / (hi - lo) if hi > lo else 0.5 for v in vals[c]]
        cmap = plt.get_cmap("viridis")
        for i in range(len(done)):
            ax.plot(range(len(cols)), [norm[c][i] for c in cols],
                    color=cmap(norm[metric][i]), alpha=0.8)
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels(cols, rotation=15)
        ax.set_yticks([])
        ax.set_title("parallel coordinates (colour: " + metric + ")")
        fig.tight_layout()
        files.append(_save(fig, out_dir, "parallel.png"))

    html = os.path.join(out_dir, "report.html")
    with open(html, "w") as f:
        f.write(f"<html><head><meta charset='utf-8'><title>{study.study_name}</title></head>"
                f"<body><h1>Search {study.study_name}</h1>")
        for p in files:
            f.write(f"<p><img src='{os.path.basename(p)}'></p>")
        f.write("<pre>" + table(study, metric).replace("<", "&lt;") + "</pre></body></html>")
    return files + [html]


def _scale(v, dim):
    log = isinstance(dim, LogUniform) or (isinstance(dim, IntRange) and dim.log)
    return math.log10(v) if log and v > 0 else v


def _looks_log(values):
    pos = [v for v in values if v > 0]
    return len(pos) == len(values) and len(pos) > 1 and max(pos) / min(pos) > 100


def _save(fig, out_dir, name):
    import matplotlib.pyplot as plt
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
