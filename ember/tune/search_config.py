"""``SEARCH.toml``: what ``ember search`` varies in an ``ember train`` config, and how.

::

    [search]
    config = "mlp.toml"          # the ember train config (relative to this file)
    metric = "val_accuracy"      # or val_loss; measured on a held-out part of the training set
    direction = "maximize"       # default: maximize for accuracy, minimize for a loss
    sampler = "random"           # random | grid | tpe
    seed = 0
    train_limit = 10000          # training examples per trial (default: all)
    validation_size = 10000
    storage = "sqlite:///study.db"   # default: study.db in the output folder
    workers = 1
    out = "searches/mlp"         # default: searches/<file name>

    [space]
    "solver.base_lr" = {loguniform = [1e-4, 1.0]}
    "solver.weight_decay" = {loguniform = [1e-6, 1e-2]}
    "model.layers.0.out_features" = {choice = [128, 256, 512]}

    [[stage]]                    # coarse
    name = "coarse"
    trials = 12
    epochs = 1

    [[stage]]                    # fine: around the best 3 of the stage before
    name = "fine"
    trials = 8
    epochs = 1
    refine_top_k = 3
    shrink = 0.5
"""
import os
from dataclasses import dataclass, field
from typing import Optional

from ..cli.config import ConfigError
from .config_trial import read_toml
from .space import from_dict

SEARCH_KEYS = {"config", "metric", "direction", "sampler", "seed", "train_limit",
               "validation_size", "storage", "workers", "out", "study_name", "report_every",
               "prune_ratio", "tensorboard", "heartbeat", "grace_period", "grid_points"}
STAGE_KEYS = {"name", "trials", "epochs", "refine_top_k", "shrink", "sampler"}
METRICS = ("val_accuracy", "val_loss", "accuracy", "loss")


@dataclass
class Stage:
    name: str
    trials: int
    epochs: int
    refine_top_k: Optional[int] = None
    shrink: float = 0.5
    sampler: Optional[str] = None


@dataclass
class SearchConfig:
    path: str
    config: str
    space: dict
    stages: list
    metric: str = "val_accuracy"
    direction: str = "maximize"
    sampler: str = "random"
    seed: int = 0
    train_limit: Optional[int] = None
    validation_size: int = 10000
    storage: Optional[str] = None
    workers: int = 1
    out: str = ""
    study_name: str = ""
    report_every: int = 10
    prune_ratio: float = 3.0
    tensorboard: bool = True
    heartbeat: int = 10
    grace_period: int = 30
    grid_points: int = 5
    raw: dict = field(default_factory=dict)


def _err(path, msg):
    return ConfigError(f"{path}: {msg}")


def _int(path, where, v, lo=1):
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise _err(path, f"{where} must be an int >= {lo}, got {v!r}")
    return v


def load_search(path: str) -> SearchConfig:
    """Parse and check ``path``; every mistake is a ConfigError naming the key."""
    raw = read_toml(path)
    for k in raw:
        if k not in ("search", "space", "stage"):
            raise _err(path, f"unknown section [{k}]; allowed: [search], [space], [[stage]]")
    s = raw.get("search")
    if not isinstance(s, dict):
        raise _err(path, "missing the [search] table (with at least config = \"...toml\")")
    for k in s:
        if k not in SEARCH_KEYS:
            raise _err(path, f"[search] unknown key {k!r}; allowed: {', '.join(sorted(SEARCH_KEYS))}")
    if "config" not in s or not isinstance(s["config"], str):
        raise _err(path, "[search] config: the ember train config to search over is required")
    here = os.path.dirname(os.path.abspath(path))
    config = os.path.join(here, s["config"])
    if not os.path.isfile(config):
        raise _err(path, f"[search] config: no such file {config}")
    metric = s.get("metric", "val_accuracy")
    if metric not in METRICS:
        raise _err(path, f"[search] metric must be one of {', '.join(METRICS)}, got {metric!r}")
    direction = s.get("direction", "maximize" if "accuracy" in metric else "minimize")
    if direction not in ("maximize", "minimize"):
        raise _err(path, f"[search] direction must be maximize or minimize, got {direction!r}")
    sampler = s.get("sampler", "random")
    if sampler not in ("random", "grid", "tpe"):
        raise _err(path, f"[search] sampler must be random, grid or tpe, got {sampler!r}")

    space_raw = raw.get("space")
    if not isinstance(space_raw, dict) or not space_raw:
        raise _err(path, "missing the [space] table: which config keys vary, e.g. "
                   "\"solver.base_lr\" = {loguniform = [1e-4, 1e-1]}")
    space = {}
    for key, spec in space_raw.items():
        try:
            space[key] = from_dict(key, spec)
        except ValueError as e:
            raise _err(path, f"[space] {e}") from None

    stages_raw = raw.get("stage") or [{"name": "search", "trials": 10, "epochs": 1}]
    if not isinstance(stages_raw, list):
        raise _err(path, "stages are written [[stage]] (an array of tables)")
    stages, names = [], set()
    for i, st in enumerate(stages_raw):
        for k in st:
            if k not in STAGE_KEYS:
                raise _err(path, f"[[stage]] {i}: unknown key {k!r}; allowed: "
                           f"{', '.join(sorted(STAGE_KEYS))}")
        name = st.get("name", f"stage{i + 1}")
        if not isinstance(name, str) or name in names:
            raise _err(path, f"[[stage]] {i}: name must be a unique string, got {name!r}")
        names.add(name)
        top = st.get("refine_top_k")
        if top is not None:
            if i == 0:
                raise _err(path, "[[stage]] 0: refine_top_k needs a stage before it to refine")
            _int(path, f"[[stage]] {i} refine_top_k", top)
        shrink = st.get("shrink", 0.5)
        if isinstance(shrink, bool) or not isinstance(shrink, (int, float)) or not 0 < shrink <= 1:
            raise _err(path, f"[[stage]] {i} shrink must be in (0, 1], got {shrink!r}")
        smp = st.get("sampler")
        if smp is not None and smp not in ("random", "grid", "tpe"):
            raise _err(path, f"[[stage]] {i} sampler must be random, grid or tpe, got {smp!r}")
        stages.append(Stage(name, _int(path, f"[[stage]] {i} trials", st.get("trials", 10)),
                            _int(path, f"[[stage]] {i} epochs", st.get("epochs", 1)),
                            top, float(shrink), smp))

    stem = os.path.splitext(os.path.basename(path))[0]
    out = s.get("out", os.path.join("searches", stem))
    train_limit = s.get("train_limit")
    if train_limit is not None:
        _int(path, "[search] train_limit", train_limit)
    ratio = s.get("prune_ratio", 3.0)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not (ratio == 0 or ratio > 1):
        raise _err(path, f"[search] prune_ratio must be > 1 (or 0 for no pruning), got {ratio!r}")
    storage = s.get("storage")
    if storage is not None and not isinstance(storage, str):
        raise _err(path, f"[search] storage must be a URL string, got {storage!r}")
    return SearchConfig(
        path=os.path.abspath(path), config=config, space=space, stages=stages, metric=metric,
        direction=direction, sampler=sampler, seed=_int(path, "[search] seed", s.get("seed", 0), 0),
        train_limit=train_limit,
        validation_size=_int(path, "[search] validation_size", s.get("validation_size", 10000)),
        storage=storage, workers=_int(path, "[search] workers", s.get("workers", 1)), out=out,
        study_name=s.get("study_name", stem),
        report_every=_int(path, "[search] report_every", s.get("report_every", 10)),
        prune_ratio=float(ratio), tensorboard=bool(s.get("tensorboard", True)),
        heartbeat=_int(path, "[search] heartbeat", s.get("heartbeat", 10)),
        grace_period=_int(path, "[search] grace_period", s.get("grace_period", 30)),
        grid_points=_int(path, "[search] grid_points", s.get("grid_points", 5)), raw=raw)
