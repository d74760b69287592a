"""The sequence side of the ``ember train`` config: ``[data]`` tables naming the offline sequence
tasks (``ember.data.sequence_tasks``), Keras-named layers (``[model] api = "keras"``), and the
losses and metrics that fit each task. Checked before anything is loaded or trained; every error
names the file, the line and the allowed values, as for the image configs.

    [data]
    dataset = "langid_words"          # langid_words | kjv_chars | vega_forecast
    train_per_language = 2000

    [model]
    api = "keras"                     # layer types are ember.keras.layers names

    [[model.layers]]
    type = "Embedding"
    input_dim = "data.vocab_size"     # a size the dataset provides, known once it is loaded
    output_dim = 24
    mask_zero = true

    [[model.layers]]
    type = "Bidirectional"
    layer = {type = "GRU", units = 96}

Keras layers create their weights from the first batch, so only sizes of the data (vocabulary,
classes, horizon) are written as ``"data.NAME"`` references.
"""
import inspect
import math

from .config import ConfigError, _err

_POS_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
            "an integer >= 1")
_NONNEG_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
               "an integer >= 0")
_STR = (lambda v: isinstance(v, str) and v != "", "a non-empty string in quotes")
_ANY_STR = (lambda v: isinstance(v, str), "a string in quotes")
_FRACTION = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1,
             "a number in (0, 1)")
_OPT_POS_INT = (lambda v: v is None or _POS_INT[0](v), "an integer >= 1")
_OPT_PATH = (lambda v: v is None or isinstance(v, str), "a path in quotes")


def _languages(v):
    from ..data.text.corpora import WORDLISTS
    return v is None or (isinstance(v, list) and len(v) >= 2 and
                         all(isinstance(x, str) and x in WORDLISTS for x in v) and
                         len(set(v)) == len(v))


#: dataset -> (kind, {key: (default, (check, what))}, sizes it provides, loss family)
TASKS = {
    "langid_words": ("classification", {
        "languages": (None, (_languages, "a list of at least two distinct language codes out "
                                         "of en, de, fr, it, es, nl")),
        "train_per_language": (2000, _POS_INT), "test_per_language": (500, _POS_INT),
        "min_len": (3, _POS_INT), "max_len": (16, _POS_INT), "seed": (0, _NONNEG_INT),
        "root": ("/usr/share/dict", _STR),
    }, ("vocab_size", "num_classes", "max_len")),
    "kjv_chars": ("language_model", {
        "seq_len": (100, _POS_INT), "train_windows": (20000, _POS_INT),
        "val_fraction": (0.1, _FRACTION), "val_chars": (None, _OPT_POS_INT),
        "seed": (0, _NONNEG_INT),
    }, ("vocab_size", "seq_len")),
    "vega_forecast": ("regression", {
        "file": ("seattle-weather.csv", _STR), "column": ("temp_max", _STR),
        "history": (30, _POS_INT), "horizon": (7, _POS_INT), "test_from": ("2015", _STR),
        "stride": (1, _POS_INT), "units": ("", _ANY_STR), "root": (None, _OPT_PATH),
    }, ("history", "horizon")),
}
COMMON_KEYS = ("dataset", "validation_split")

#: losses by task kind (the first is the one to suggest)
LOSSES = {
    "classification": ("cross_entropy", "sparse_categorical_crossentropy"),
    "language_model": ("sparse_categorical_crossentropy",),
    "regression": ("mse", "mae", "huber"),
}
METRICS = {
    "classification": ("accuracy",),
    "language_model": ("perplexity", "accuracy"),
    "regression": ("mae", "mse"),
}
#: the held-out figure a run reports first
HEADLINE = {"classification": "accuracy", "language_model": "perplexity", "regression": "mae"}


def is_sequence(dataset) -> bool:
    return dataset in TASKS


def kind(dataset) -> str:
    return TASKS[dataset][0]


def check_data(path, lines, raw: dict) -> dict:
    """The ``[data]`` table of a sequence task, with defaults filled in."""
    dataset = raw["dataset"]
    _, keys, _ = TASKS[dataset]
    out = {"dataset": dataset, "validation_split": 0.0}
    out.update({k: d for k, (d, _) in keys.items()})
    allowed = list(COMMON_KEYS) + list(keys)
    for key, value in raw.items():
        if key not in allowed:
            raise _err(path, lines, "data", key,
                       f"unknown key for dataset {dataset!r}; allowed: "
                       f"{', '.join(sorted(allowed))}")
        if key in keys:
            ok, what = keys[key][1]
            if not ok(value):
                raise _err(path, lines, "data", key, f"got {value!r}; expected {what}")
        out[key] = value
    v = out["validation_split"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
        raise _err(path, lines, "data", "validation_split", f"got {v!r}; expected a number in "
                                                            "[0, 1)")
    if dataset == "langid_words" and out["min_len"] > out["max_len"]:
        raise _err(path, lines, "data", "min_len",
                   f"min_len {out['min_len']} is above max_len {out['max_len']}")
    return out


def check_solver(path, lines, cfg, raw_solver: dict):
    """Loss, ``from_logits`` and metrics that fit the task (images: accuracy with
    cross_entropy, as before)."""
    s, dataset = cfg["solver"], cfg["data"]["dataset"]
    k = kind(dataset) if is_sequence(dataset) else "classification"
    losses = LOSSES[k] if is_sequence(dataset) else ("cross_entropy",)
    if s["loss"] not in losses:
        extra = ""
        if k == "language_model" and s["loss"] == "cross_entropy":
            extra = ("; cross_entropy reads classes on dim 1 (PyTorch), but a per-step model "
                     "outputs (batch, steps, classes): use sparse_categorical_crossentropy "
                     "with from_logits = true")
        raise _err(path, lines, "solver", "loss",
                   f"{s['loss']!r} does not fit dataset {dataset!r} ({k}); choose one of "
                   f"{', '.join(losses)}{extra}")
    if not isinstance(s["from_logits"], bool):
        raise _err(path, lines, "solver", "from_logits",
                   f"got {s['from_logits']!r}; expected true or false")
    if "from_logits" in raw_solver and s["loss"] != "sparse_categorical_crossentropy":
        raise _err(path, lines, "solver", "from_logits",
                   f"applies to sparse_categorical_crossentropy only ({s['loss']!r} "
                   + ("takes logits)" if s["loss"] == "cross_entropy" else "is a regression "
                                                                           "loss)"))
    allowed = METRICS[k] if is_sequence(dataset) else ("accuracy",)
    m = s["metrics"]
    if m is None:
        s["metrics"] = [allowed[0]]
        return
    if not isinstance(m, list) or not m or not all(isinstance(x, str) for x in m):
        raise _err(path, lines, "solver", "metrics",
                   f"got {m!r}; expected a list of metric names, e.g. [\"{allowed[0]}\"]")
    for name in m:
        if name not in allowed:
            raise _err(path, lines, "solver", "metrics",
                       f"{name!r} does not fit dataset {dataset!r} ({k}); choose from "
                       f"{', '.join(allowed)}")


# ---- Keras-named layers ------------------------------------------------------------------------
WRAPPERS = ("Bidirectional", "TimeDistributed")
_STRING_ARGS = ("activation", "recurrent_activation", "padding", "merge_mode", "name")


def keras_classes() -> dict:
    from ..keras import layers as L
    from ..nn.module import Module
    skip = ("Layer", "Module", "TextVectorization")
    return {n: getattr(L, n) for n in dir(L)
            if isinstance(getattr(L, n), type) and issubclass(getattr(L, n), Module) and
            n not in skip}


def _arguments(cls) -> dict:
    """Constructor arguments by name, following ``**kw`` into the base classes (Keras's LSTM
    passes its common options on to the shared recurrent body)."""
    out = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        for name, p in params.items():
            if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                out.setdefault(name, p)
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    out.pop("backward_layer", None)
    return out


def check_keras_layer(path, lines, i, spec, dataset, where=""):
    """One ``[[model.layers]]`` table of ``api = "keras"`` (``where`` names an inline wrapped
    layer). Returns {type, kwargs, refs, lr_mult, decay_mult}; a ``"data.NAME"`` value is kept
    as a reference in ``refs`` and filled in by :func:`resolve` once the data is loaded."""
    classes = keras_classes()
    what = f"layer {i}{where}"
    if not isinstance(spec, dict):
        raise _err(path, lines, "model.layers", "layer",
                   f"{what}: expected an inline table such as {{type = \"GRU\", units = 64}}, "
                   f"got {spec!r}", index=i)
    t = spec.get("type")
    if t not in classes:
        raise _err(path, lines, "model.layers", "type",
                   f"{what}: {t!r} is not an ember.keras layer; choose one of "
                   f"{', '.join(sorted(classes))}", index=i)
    cls = classes[t]
    args = _arguments(cls)
    allowed = [a for a in args if a not in ("input_shape", "input_dim", "input_length")] \
        if t != "Embedding" else [a for a in args if a != "input_shape"]
    sizes = TASKS[dataset][2] if is_sequence(dataset) else ()
    kwargs, refs = {}, {}
    meta = ("type", "lr_mult", "decay_mult") if not where else ("type",)
    for key, value in spec.items():
        if key in meta:
            continue
        if key not in allowed:
            raise _err(path, lines, "model.layers", key if not where else "layer",
                       f"{what} ({t}) has no argument {key!r}; allowed: "
                       f"{', '.join(allowed + list(meta[1:]))}", index=i)
        if key == "layer":
            if t not in WRAPPERS:
                raise _err(path, lines, "model.layers", key, f"{what} ({t}): only "
                                                             f"{' and '.join(WRAPPERS)} wrap a "
                                                             "layer", index=i)
            inner = check_keras_layer(path, lines, i, value, dataset,
                                      where=f"{where} (inside {t})")
            if t == "Bidirectional" and inner["type"] not in ("SimpleRNN", "LSTM", "GRU"):
                raise _err(path, lines, "model.layers", "layer",
                           f"{what} (Bidirectional) wraps a SimpleRNN, LSTM or GRU, not "
                           f"{inner['type']}", index=i)
            kwargs[key] = inner
            continue
        if isinstance(value, str) and value.startswith("data."):
            name = value[5:]
            if name not in sizes:
                raise _err(path, lines, "model.layers", key if not where else "layer",
                           f"{what} ({t}): {value!r} is not a size of dataset {dataset!r}; "
                           + (f"it provides {', '.join('data.' + s for s in sizes)}" if sizes
                              else "image datasets provide none (write the number)"),
                           index=i)
            refs[key] = name
            kwargs[key] = value
            continue
        ok = isinstance(value, (int, float, bool, list)) or (
            isinstance(value, str) and key in _STRING_ARGS)
        if not ok or isinstance(value, float) and not math.isfinite(value):
            raise _err(path, lines, "model.layers", key if not where else "layer",
                       f"{what} ({t}): got {value!r}; expected a number" +
                       (f" or a size of the data ({', '.join('data.' + s for s in sizes)})"
                        if sizes else ""), index=i)
        kwargs[key] = value
    missing = [a for a, p in args.items() if p.default is inspect.Parameter.empty and
               a not in kwargs and a not in ("input_shape",)]
    if missing:
        raise _err(path, lines, "model.layers", "type" if not where else "layer",
                   f"{what} ({t}) needs {', '.join(missing)}", index=i)
    mults = {}
    for m in meta[1:]:
        v = spec.get(m, 1.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or \
                v < 0:
            raise _err(path, lines, "model.layers", m,
                       f"{what}: got {v!r}; expected one number >= 0 (Keras layers make their "
                       "weights at the first batch, so per-parameter lists are not taken)",
                       index=i)
        mults[m] = float(v)
    out = {"type": t, "kwargs": kwargs, "refs": refs, "lr_mult": mults.get("lr_mult", 1.0),
           "decay_mult": mults.get("decay_mult", 1.0), "api": "keras"}
    try:  # builds nothing (weights come with the first batch): checks the options now
        make_layer(out, {s: 1 for s in sizes})
    except Exception as e:
        raise _err(path, lines, "model.layers", "type" if not where else "layer",
                   f"{what} ({t}): {type(e).__name__}: {e}", index=i) from None
    return out


def make_layer(spec, sizes):
    """The ember.keras layer of a checked spec, ``"data.NAME"`` references taken from
    ``sizes``."""
    kw = {}
    for key, value in spec["kwargs"].items():
        if key == "layer":
            value = make_layer(value, sizes)
        elif key in spec.get("refs", {}):
            name = spec["refs"][key]
            if name not in sizes:
                raise ConfigError(f"layer {spec['type']}: {key} = \"data.{name}\" but the data "
                                  f"gave no {name!r} (it gave {sorted(sizes)})")
            value = sizes[name]
        kw[key] = value
    return keras_classes()[spec["type"]](**kw)


def input_example(data: dict):
    """A zero batch of two samples in the task's input shape and dtype (to build Keras layers
    before the data is at hand, e.g. for ``ember doctor``), or None."""
    import numpy as np
    d = data["dataset"]
    if d == "langid_words":
        return np.zeros((2, data["max_len"]), np.int64)
    if d == "kjv_chars":
        return np.zeros((2, data["seq_len"]), np.int64)
    if d == "vega_forecast":
        return np.zeros((2, data["history"], 1), np.float32)
    return None


def load_task(data: dict):
    """Build the :class:`ember.data.sequence_tasks.SequenceTask` a checked ``[data]`` names."""
    from ..data import sequence_tasks as st
    d = data["dataset"]
    if d == "langid_words":
        return st.language_id_task(data["languages"], data["train_per_language"],
                                   data["test_per_language"], data["min_len"], data["max_len"],
                                   data["seed"], data["root"], shuffle=True)
    if d == "kjv_chars":
        return st.char_lm_task(data["seq_len"], data["train_windows"], data["val_fraction"],
                               data["val_chars"], data["seed"])
    if d == "vega_forecast":
        return st.forecast_task(data["file"], data["column"], data["history"], data["horizon"],
                                data["test_from"], data["stride"], data["units"], data["root"])
    raise ValueError(f"not a sequence dataset: {d!r}")
