"""The ``ember train`` configuration (TOML, Caffe-style: a model and a solver), read and checked
completely before any training starts. Every error names the line and the allowed values.

Example::

    [data]
    dataset = "fashion_mnist"        # mnist | fashion_mnist | cifar10 | cifar100
    layout = "flat"                  # flat (N, D) | image (N, C, H, W)
    validation_split = 0.0

    [[model.layers]]
    type = "Linear"
    in_features = 784
    out_features = 512
    lr_mult = 1.0                    # this layer's learning rate = base_lr * lr_mult
                                     # (or one per parameter, Caffe's weight/bias: [1.0, 2.0])

    [[model.layers]]
    type = "ReLU"

    [solver]
    optimizer = "rmsprop"            # sgd | rmsprop | adam | adamw | adagrad | adadelta | nadam
    base_lr = 0.001
    lr_policy = "fixed"              # fixed | step | multistep | exp | inv | cosine
    batch_size = 128
    max_epochs = 5
"""
import inspect
import math
import os
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:  # pragma: no cover
        tomllib = None


class ConfigError(ValueError):
    """A problem in the config file; the message names file, line and allowed values."""


DATA_KEYS = {
    "dataset": ("mnist", "fashion_mnist", "cifar10", "cifar100",
                # sequence tasks: their own keys, see ember/cli/sequence_config.py
                "langid_words", "kjv_chars", "vega_forecast"),
    "root": None, "layout": ("flat", "image"), "validation_split": None,
}
SOLVER_KEYS = {
    "optimizer": ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "nadam"),
    "base_lr": None, "lr_policy": ("fixed", "step", "multistep", "exp", "inv", "cosine"),
    "gamma": None, "stepsize": None, "stepvalues": None, "power": None, "momentum": None,
    "nesterov": None, "weight_decay": None, "batch_size": None, "max_epochs": None,
    "test_interval": None, "snapshot": None, "snapshot_prefix": None, "resume": None,
    "seed": None, "device": ("cpu",), "run_dir": None, "loss": ("cross_entropy",),
    "tensorboard": None, "doctor": None, "jit": None, "distributed": None,
}
# losses and metrics beyond images' cross_entropy / accuracy go with the sequence tasks
SOLVER_KEYS["loss"] = ("cross_entropy", "sparse_categorical_crossentropy", "mse", "mae", "huber")
SOLVER_KEYS.update({"from_logits": None, "metrics": None})
MODEL_KEYS = {"layers": None, "api": ("nn", "keras")}
TOP_KEYS = ("data", "model", "solver")
LAYER_META = ("type", "lr_mult", "decay_mult")

DEFAULTS = {
    "data": {"dataset": "fashion_mnist", "root": None, "layout": "flat", "validation_split": 0.0},
    "solver": {"optimizer": "sgd", "base_lr": 0.01, "lr_policy": "fixed", "gamma": 0.1,
               "stepsize": 1000, "stepvalues": [], "power": 0.75, "momentum": 0.0,
               "nesterov": False, "weight_decay": 0.0, "batch_size": 64, "max_epochs": 1,
               "test_interval": 1, "snapshot": 0, "snapshot_prefix": "snapshot", "resume": None,
               "seed": 0, "device": "cpu", "run_dir": "runs", "loss": "cross_entropy",
               "tensorboard": True, "doctor": False, "jit": False,
               "distributed": None,  # None: data-parallel when started by mpirun -n N>1
               "from_logits": False, "metrics": None},
}


class _Lines:
    """Finds the line where a key is set, for error messages (tomllib reports none)."""

    def __init__(self, text):
        self.lines = text.splitlines()

    def find(self, section, key, index=None):
        header = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.]+)\s*\]?\]")
        current, count = None, -1
        for no, line in enumerate(self.lines, 1):
            m = header.match(line)
            if m:
                current = m.group(1)
                if current == section:
                    count += 1
                continue
            if current == section and (index is None or count == index):
                if re.match(rf"^\s*{re.escape(key)}\s*=", line):
                    return no
        count = -1
        for no, line in enumerate(self.lines, 1):  # the (index-th) section header itself
            m = header.match(line)
            if m and m.group(1) == section:
                count += 1
                if index is None or count == index:
                    return no
        return None


def _err(path, lines, section, key, msg, index=None):
    no = lines.find(section, key, index)
    where = f"{path}:{no}" if no else str(path)
    return ConfigError(f"{where}: [{section}] {key}: {msg}")


def load_config(path):
    """Parse and validate ``path``; returns a dict with data/model/solver sections filled with
    defaults. Raises ConfigError for anything wrong, before any work is done."""
    if tomllib is None:  # pragma: no cover
        raise ConfigError("reading TOML needs Python >= 3.11 or the 'tomli' package "
                          "(pip install 'ember[toml]' or pip install tomli)")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror})") from None
    text = raw.decode("utf-8", errors="replace")
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    lines = _Lines(text)
    for key in cfg:
        if key not in TOP_KEYS:
            raise ConfigError(f"{path}:{lines.find(key, '') or '?'}: unknown section [{key}]; "
                              f"allowed: {', '.join(TOP_KEYS)}")
    out = {}
    from . import sequence_config as seq
    for section, allowed in (("data", DATA_KEYS), ("solver", SOLVER_KEYS)):
        raw_sec = cfg.get(section, {})
        if section == "data" and seq.is_sequence(raw_sec.get("dataset")):
            out["data"] = seq.check_data(path, lines, raw_sec)
            continue
        sec = dict(DEFAULTS[section])
        for key, value in cfg.get(section, {}).items():
            if key not in allowed:
                raise _err(path, lines, section, key,
                           f"unknown key; allowed: {', '.join(sorted(allowed))}")
            choices = allowed[key]
            if choices is not None and value not in choices:
                raise _err(path, lines, section, key,
                           f"{value!r} is not allowed; choose one of {', '.join(choices)}")
            sec[key] = value
        out[section] = sec
    _check_numbers(path, lines, out)
    seq.check_solver(path, lines, out, cfg.get("solver", {}))
    layers = cfg.get("model", {}).get("layers")
    if not layers:
        raise ConfigError(f"{path}: [model] needs at least one [[model.layers]] table")
    for key, value in cfg["model"].items():
        if key not in MODEL_KEYS:
            raise _err(path, lines, "model", key,
                       f"unknown key; allowed: {', '.join(MODEL_KEYS)}")
        if MODEL_KEYS[key] and value not in MODEL_KEYS[key]:
            raise _err(path, lines, "model", key, f"{value!r} is not allowed; choose one of "
                                                  f"{', '.join(MODEL_KEYS[key])}")
    api = cfg["model"].get("api", "nn")
    dataset = out["data"]["dataset"]
    if api == "nn" and seq.is_sequence(dataset):
        raise _err(path, lines, "model", "api" if "api" in cfg["model"] else "layers",
                   f"dataset {dataset!r} is a sequence task: its layers are ember.keras's "
                   "(Embedding with mask_zero, LSTM/GRU/SimpleRNN with return_sequences, "
                   "Bidirectional, TimeDistributed, Dense); set api = \"keras\" in [model]")
    if api == "keras":
        specs = [seq.check_keras_layer(path, lines, i, spec, dataset)
                 for i, spec in enumerate(layers)]
    else:
        specs = [_check_layer(path, lines, i, spec) for i, spec in enumerate(layers)]
    out["model"] = {"layers": specs, "api": api}
    return out


def _check_numbers(path, lines, cfg):
    s, d = cfg["solver"], cfg["data"]
    rules = [
        ("solver", "base_lr", s["base_lr"], lambda v: v > 0, "a number > 0"),
        ("solver", "batch_size", s["batch_size"], lambda v: isinstance(v, int) and v >= 1,
         "an integer >= 1"),
        ("solver", "max_epochs", s["max_epochs"], lambda v: isinstance(v, int) and v >= 1,
         "an integer >= 1"),
        ("solver", "momentum", s["momentum"], lambda v: 0 <= v < 1, "a number in [0, 1)"),
        ("solver", "weight_decay", s["weight_decay"], lambda v: v >= 0, "a number >= 0"),
        ("solver", "gamma", s["gamma"], lambda v: v > 0, "a number > 0"),
        ("solver", "stepsize", s["stepsize"], lambda v: isinstance(v, int) and v >= 1,
         "an integer >= 1 (iterations)"),
        ("solver", "power", s["power"], lambda v: v >= 0, "a number >= 0"),
        ("solver", "test_interval", s["test_interval"], lambda v: isinstance(v, int) and v >= 0,
         "an integer >= 0 (epochs; 0 = only at the end)"),
        ("solver", "snapshot", s["snapshot"], lambda v: isinstance(v, int) and v >= 0,
         "an integer >= 0 (epochs; 0 = only the final weights)"),
        ("solver", "seed", s["seed"], lambda v: isinstance(v, int) and v >= 0,
         "an integer >= 0"),
    ]
    if "layout" in d:  # an image dataset (a sequence task's [data] is checked on its own)
        rules.append(("data", "validation_split", d["validation_split"], lambda v: 0 <= v < 1,
                      "a number in [0, 1)"))
    for section, key, value, ok, what in rules:
        good = isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value)
        if not good or not ok(value):
            raise _err(path, lines, section, key, f"got {value!r}; expected {what}")
    if s["lr_policy"] == "multistep" and not s["stepvalues"]:
        raise _err(path, lines, "solver", "lr_policy",
                   "'multistep' needs stepvalues = [iteration, ...]")
    sv = s["stepvalues"]
    if not isinstance(sv, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                           and v >= 0 for v in sv):
        raise _err(path, lines, "solver", "stepvalues",
                   f"got {sv!r}; expected a list of iteration numbers (integers >= 0)")
    for flag in ("nesterov", "tensorboard", "doctor", "jit", "distributed"):
        if not isinstance(s[flag], bool) and not (flag == "distributed" and s[flag] is None):
            raise _err(path, lines, "solver", flag, f"got {s[flag]!r}; expected true or false")
    if s["nesterov"] and (s["optimizer"] != "sgd" or s["momentum"] <= 0):
        raise _err(path, lines, "solver", "nesterov",
                   "Nesterov momentum needs optimizer = \"sgd\" and momentum > 0")
    if s["momentum"] and s["optimizer"] not in ("sgd", "rmsprop"):
        raise _err(path, lines, "solver", "momentum",
                   f"momentum applies to sgd and rmsprop, not {s['optimizer']} (which has its own "
                   "moment estimates); remove it or change the optimizer")
    for key in ("resume", "root"):
        section = "solver" if key == "resume" else "data"
        if key not in cfg[section]:
            continue
        v = cfg[section][key]
        if v is not None and not isinstance(v, str):
            raise _err(path, lines, section, key, f"got {v!r}; expected a path in quotes")
    if s["resume"] is not None and not os.path.isfile(s["resume"]):
        raise _err(path, lines, "solver", "resume", f"no such snapshot file: {s['resume']}")
    for key in ("snapshot_prefix", "run_dir"):
        if not isinstance(s[key], str) or not s[key]:
            raise _err(path, lines, "solver", key, f"got {s[key]!r}; expected a non-empty string")
    _check_inside_run_folder(path, lines, "snapshot_prefix", s["snapshot_prefix"])


def _check_inside_run_folder(path, lines, key, value):
    """Output paths are relative to the run folder and stay inside it: no absolute path, no
    ``..``, and a file name at the end (``snapshots/lenet`` writes snapshots/lenet_e1...)."""
    parts = re.split(r"[\\/]", value)
    if os.path.isabs(value) or value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        raise _err(path, lines, "solver", key, f"{value!r} is an absolute path; output paths are "
                                               "relative to the run folder and stay inside it")
    if ".." in parts:
        raise _err(path, lines, "solver", key, f"{value!r} leaves the run folder ('..'); output "
                                               "paths stay inside it")
    if not parts[-1] or parts[-1] == ".":
        raise _err(path, lines, "solver", key, f"{value!r} ends with a folder; give a file name "
                                               "prefix, e.g. 'snapshots/lenet'")


def _layer_classes():
    from .. import nn
    names = {}
    for name in dir(nn):
        obj = getattr(nn, name)
        if isinstance(obj, type) and issubclass(obj, nn.Module) and obj is not nn.Module and \
                not name.endswith("Loss") and name not in ("Sequential", "ModuleList",
                                                            "ModuleDict"):
            names[name] = obj
    return names


def _ints(v, n):
    return list(v) if isinstance(v, list) else [v] * n


def param_count(t, kw):
    """Parameters a layer will allocate, from its arguments (no allocation), or None when
    unknown (then it is small: activations, pooling, normalization of known width)."""
    if t in ("Linear", "Maxout"):
        k = kw.get("pieces", 1) if t == "Maxout" else 1
        return k * (kw["in_features"] * kw["out_features"] +
                    (kw["out_features"] if kw.get("bias", True) else 0))
    if t == "Conv2d":
        ks = _ints(kw["kernel_size"], 2)
        per = kw["in_channels"] // max(kw.get("groups", 1), 1) * math.prod(ks)
        return kw["out_channels"] * per + (kw["out_channels"] if kw.get("bias", True) else 0)
    if t == "Embedding":
        return kw["num_embeddings"] * kw["embedding_dim"]
    if t in ("BatchNorm1d", "BatchNorm2d"):
        return 4 * kw["num_features"]
    if t == "LayerNorm":
        return 2 * math.prod(_ints(kw["normalized_shape"], 1))
    if t == "PReLU":
        return kw.get("num_parameters", 1)
    return None


def available_memory():
    """Bytes of memory available now (Linux MemAvailable; else physical memory), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _check_layer(path, lines, i, spec):
    classes = _layer_classes()
    t = spec.get("type")
    if t not in classes:
        raise _err(path, lines, "model.layers", "type",
                   f"layer {i}: {t!r} is not a layer; choose one of {', '.join(sorted(classes))}",
                   index=i)
    cls = classes[t]
    params = inspect.signature(cls.__init__).parameters
    allowed = [p for p in params if p not in ("self", "args", "kwargs", "dtype")]
    kwargs = {}
    for key, value in spec.items():
        if key in LAYER_META:
            continue
        if key not in allowed:
            raise _err(path, lines, "model.layers", key,
                       f"layer {i} ({t}) has no argument {key!r}; allowed: "
                       f"{', '.join(allowed + list(LAYER_META[1:]))}", index=i)
        if not isinstance(value, (int, float, bool, list)) and not (
                isinstance(value, str) and key in ("padding", "nonlinearity", "mode",
                                                   "approximate")):
            raise _err(path, lines, "model.layers", key,
                       f"layer {i} ({t}): got {value!r}; expected a number", index=i)
        kwargs[key] = value
    missing = [p for p, v in params.items() if p not in ("self", "args", "kwargs") and
               v.default is inspect.Parameter.empty and p not in kwargs and
               v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)]
    if missing:
        raise _err(path, lines, "model.layers", "type",
                   f"layer {i} ({t}) needs {', '.join(missing)}", index=i)
    for key, value in kwargs.items():  # common argument ranges, reported at their own line
        bad = None
        if key in ("in_features", "out_features", "in_channels", "out_channels", "kernel_size",
                   "stride", "dilation", "groups", "num_features", "num_embeddings",
                   "embedding_dim", "pieces", "num_parameters"):
            vals = value if isinstance(value, list) else [value]
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in vals):
                bad = "expected a positive integer"
        elif key == "p" and not (isinstance(value, (int, float)) and 0 <= value <= 1):
            bad = "expected a probability in [0, 1]"
        elif isinstance(value, float) and not math.isfinite(value):
            bad = "expected a finite number"
        elif key == "eps" and not (isinstance(value, (int, float)) and value > 0):
            bad = "expected a number > 0 (it keeps a division away from zero)"
        elif key == "momentum" and not (isinstance(value, (int, float)) and 0 <= value <= 1):
            bad = "expected a number in [0, 1]"
        if bad:
            raise _err(path, lines, "model.layers", key, f"layer {i} ({t}): got {value!r}; {bad}",
                       index=i)
    if t == "Embedding":
        raise _err(path, lines, "model.layers", "type",
                   f"layer {i} (Embedding) looks up integer indices, but the data and every "
                   "layer's output here are float arrays (images scaled to [0, 1]); use Linear "
                   "for float inputs (the sequence datasets langid_words and kjv_chars give "
                   "character ids, with [model] api = \"keras\")", index=i)
    mults = {}
    for meta in ("lr_mult", "decay_mult"):
        v = spec.get(meta, 1.0)
        vals = v if isinstance(v, list) else [v]
        if not vals or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and
                               math.isfinite(x) and x >= 0 for x in vals):
            raise _err(path, lines, "model.layers", meta,
                       f"layer {i}: got {v!r}; expected a number >= 0, or a list of them, one "
                       "per parameter (Caffe's weight and bias: [1.0, 2.0])", index=i)
        mults[meta] = [float(x) for x in vals] if isinstance(v, list) else float(v)
    try:
        n = param_count(t, kwargs)
    except (KeyError, TypeError):
        n = None
    if n is not None:
        need, avail = 4 * n, available_memory()  # float32 parameters
        if avail is not None and need > avail:
            raise _err(path, lines, "model.layers", "type",
                       f"layer {i} ({t}) would hold {n:,} parameters = {need:,} bytes (float32), "
                       f"more than the {avail:,} bytes of memory available (and training needs "
                       "about 4x that for gradients and optimizer state)", index=i)
    try:
        layer = cls(**kwargs)
    except Exception as e:  # any failure to build is a config problem, reported at its line
        raise _err(path, lines, "model.layers", "type",
                   f"layer {i} ({t}): {type(e).__name__}: {e}", index=i) from None
    n_params = len(list(layer.parameters()))
    for meta, v in mults.items():
        if isinstance(v, list) and len(v) != n_params:
            raise _err(path, lines, "model.layers", meta,
                       f"layer {i} ({t}): {len(v)} values for {n_params} parameter(s) "
                       f"({', '.join(nm for nm, _ in layer.named_parameters()) or 'none'}); "
                       "give one per parameter, in that order, or a single number", index=i)
    return {"type": t, "kwargs": kwargs, "lr_mult": mults["lr_mult"],
            "decay_mult": mults["decay_mult"]}
