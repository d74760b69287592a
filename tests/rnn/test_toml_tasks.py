"""The sequence tasks as ``ember train`` TOML configs (examples/langid_words.toml,
charlm_kjv.toml, forecast_vega.toml): each, shortened through config overrides (fewer words,
windows or epochs; a temporary run folder), learns something measurable on held-out data, and
the forecast script beats repeating the last value. Skipped, naming the Debian package, when the
data is absent (CI installs it). Also: the config's checks for the sequence keys, and the loss
and metric the language model relies on.
"""
import json
import math
import os

import numpy as np
import pytest

from ember.cli.config import ConfigError, load_config
from ember.cli.train import run
from ember.data.datasets import DatasetNotFoundError
from ember.ops import nn_rnn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small GEMMs on one OpenBLAS thread (see test_tasks.py: a second BLAS thread on a loaded
    2-core machine makes them 10x slower; results do not depend on it)."""
    local = nn_rnn._LOCAL_THREADS
    prev = local(1) if local is not None else None
    yield
    if local is not None:
        local(prev)


def _config(tmp_path, name, replace=()):
    """The example config, with text replacements (model sizes) written to tmp_path."""
    with open(os.path.join(EXAMPLES, name)) as f:
        text = f.read()
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _run(path, tmp_path, **overrides):
    ov = {"solver.run_dir": str(tmp_path / "runs"), "solver.tensorboard": False}
    ov.update(overrides)
    try:
        return run(path, verbose=0, overrides=ov)
    except DatasetNotFoundError as e:
        pytest.skip(f"data missing: {e}")


def test_every_sequence_example_config_is_valid():
    for name in ("langid_words.toml", "charlm_kjv.toml", "forecast_vega.toml"):
        cfg = load_config(os.path.join(EXAMPLES, name))
        assert cfg["model"]["api"] == "keras"
        assert any(spec["refs"] for spec in cfg["model"]["layers"])


def test_langid_toml_beats_majority_and_bag_of_characters(tmp_path):
    path = _config(tmp_path, "langid_words.toml", [("units = 96", "units = 64")])
    r = _run(path, tmp_path, **{"data.train_per_language": 500, "data.test_per_language": 200,
                                "solver.max_epochs": 3, "data.validation_split": 0.1})
    h = r["held_out"]
    # the validation slice (the last 10% of the training samples) mixes every language
    assert r["history"]["val_accuracy"][-1] > 0.4, r["history"]
    assert h["metric"] == "accuracy" and h["value"] == r["test_accuracy"]
    majority = h["baselines"]["majority class"]
    bag = h["baselines"]["bag-of-characters naive Bayes"]
    assert abs(majority - 1 / 6) < 1e-9           # six balanced languages
    assert bag > majority + 0.2                     # the baseline itself is not trivial
    assert h["value"] > bag + 0.05, h               # measured 0.68 vs 0.52 (3 epochs)
    with open(os.path.join(r["run_dir"], "report.txt")) as f:
        assert "held-out accuracy" in f.read()


def test_charlm_toml_perplexity_well_below_unigram(tmp_path):
    path = _config(tmp_path, "charlm_kjv.toml", [("units = 256", "units = 128")])
    r = _run(path, tmp_path, **{"data.seq_len": 64, "data.train_windows": 110 * 32,
                                "data.val_chars": 20000})
    h = r["held_out"]
    unigram = h["baselines"]["unigram character model"]
    assert h["metric"] == "perplexity" and unigram > 10
    assert h["value"] <= 0.75 * unigram, h          # measured 11.2 vs 20.7
    # the streaming metric is exp of the mean per-character loss on the same split
    assert math.isclose(h["value"], math.exp(r["test_loss"]), rel_tol=1e-4)
    assert 0.2 < r["test_accuracy"] < 1


def test_forecast_toml_beats_last_value(tmp_path):
    r = _run(_config(tmp_path, "forecast_vega.toml"), tmp_path)
    h = r["held_out"]
    assert h["metric"] == "mae" and h["units"] == "C"
    last = h["baselines"]["last value repeated"]
    assert 2.5 < last < 5                           # degrees C, not standardised units
    assert h["value"] < last - 0.2, h               # measured 2.89 vs 3.40
    with open(os.path.join(r["run_dir"], "report.json")) as f:
        assert json.load(f)["held_out"]["value"] == h["value"]


def test_forecast_script_beats_last_value():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "forecast_seattle_weather", os.path.join(EXAMPLES, "forecast_seattle_weather.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    try:
        mae, last, window = mod.run(epochs=20, verbose=0)   # the script's defaults
    except DatasetNotFoundError as e:
        pytest.skip(f"vega-datasets missing: {e}")
    assert 2.5 < last < 5 and window > 2.5
    assert mae < last - 0.2 and mae < window, (mae, last, window)  # measured 2.89 / 3.40 / 3.23


# ---- the config's checks ----------------------------------------------------------------------
SEQ = """\
[data]
dataset = "kjv_chars"
seq_len = 50

[model]
api = "keras"

[[model.layers]]
type = "Embedding"
input_dim = "data.vocab_size"
output_dim = 16

[[model.layers]]
type = "LSTM"
units = 32
return_sequences = true

[[model.layers]]
type = "Dense"
units = "data.vocab_size"

[solver]
loss = "sparse_categorical_crossentropy"
from_logits = true
metrics = ["perplexity"]
"""


def _check(tmp_path, text):
    p = tmp_path / "seq.toml"
    p.write_text(text)
    return load_config(str(p))


def test_sequence_config_checks_pass_and_fill_defaults(tmp_path):
    cfg = _check(tmp_path, SEQ)
    assert cfg["data"]["train_windows"] == 20000 and cfg["data"]["seq_len"] == 50
    assert cfg["model"]["layers"][0]["refs"] == {"input_dim": "vocab_size"}


@pytest.mark.parametrize("old,new,line,words", [
    ("seq_len = 50", "seq_lenn = 50", 3, ["unknown key for dataset 'kjv_chars'", "train_windows"]),
    ("seq_len = 50", "seq_len = 0", 3, ["seq_len", "integer >= 1"]),
    ('dataset = "kjv_chars"', 'dataset = "kjv"', 2, ["'kjv' is not allowed", "vega_forecast"]),
    ('api = "keras"', 'api = "torch"', 6, ["'torch' is not allowed", "nn, keras"]),
    ('api = "keras"', 'api = "nn"', 6, ["sequence task", 'api = "keras"']),
    ('input_dim = "data.vocab_size"', 'input_dim = "data.vocab"', 10,
     ["'data.vocab' is not a size", "data.vocab_size, data.seq_len"]),
    ('type = "LSTM"', 'type = "LSTMM"', 14, ["not an ember.keras layer", "GRU"]),
    ("return_sequences = true", "return_sequence = true", 16,
     ["has no argument 'return_sequence'", "return_sequences"]),
    ('loss = "sparse_categorical_crossentropy"', 'loss = "cross_entropy"', 23,
     ["does not fit dataset 'kjv_chars'", "from_logits = true"]),
    ('metrics = ["perplexity"]', 'metrics = ["mae"]', 25, ["'mae' does not fit", "perplexity"]),
])
def test_sequence_config_mistakes_name_line_and_choices(tmp_path, old, new, line, words):
    assert old in SEQ
    with pytest.raises(ConfigError) as e:
        _check(tmp_path, SEQ.replace(old, new))
    msg = str(e.value)
    assert f"seq.toml:{line}:" in msg, msg
    for w in words:
        assert w in msg, msg


def test_wrapped_layer_is_checked(tmp_path):
    text = SEQ.replace('type = "LSTM"\nunits = 32\nreturn_sequences = true',
                       'type = "Bidirectional"\nlayer = {type = "Dense", units = 4}')
    with pytest.raises(ConfigError, match=r"seq.toml:15:.*wraps a SimpleRNN, LSTM or GRU"):
        _check(tmp_path, text)
    text = SEQ.replace('type = "LSTM"\nunits = 32\nreturn_sequences = true',
                       'type = "Bidirectional"\nlayer = {type = "GRU", unitz = 4}')
    with pytest.raises(ConfigError, match=r"seq.toml:15:.*inside Bidirectional.*'unitz'"):
        _check(tmp_path, text)


def test_image_config_may_not_use_data_sizes(tmp_path):
    text = """\
[data]
dataset = "fashion_mnist"
[model]
api = "keras"
[[model.layers]]
type = "Dense"
units = "data.num_classes"
"""
    with pytest.raises(ConfigError, match=r"seq.toml:7:.*image datasets provide none"):
        _check(tmp_path, text)


# ---- the loss and metric the language model uses --------------------------------------------
def test_sparse_crossentropy_from_logits_reads_classes_last_and_perplexity():
    import ember
    import ember.nn.functional as F
    from ember.train.losses import SparseCategoricalCrossentropy
    from ember.train.metrics import Perplexity
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 5, 7)).astype(np.float32)
    y = rng.integers(0, 7, (3, 5))
    loss = SparseCategoricalCrossentropy(from_logits=True)(ember.Tensor(y), ember.Tensor(z))
    ref = F.cross_entropy(ember.Tensor(z.reshape(-1, 7)), ember.Tensor(y.reshape(-1)))
    assert np.allclose(loss.item(), ref.item(), rtol=1e-6)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = math.exp(-np.take_along_axis(logp, y[..., None], -1).mean())
    m = Perplexity()
    m.update(z[:2], y[:2])
    m.update(z[2:], y[2:])                     # streaming: exp of the mean over both batches
    assert math.isclose(m.result(), want, rel_tol=1e-6)
    p = Perplexity(from_logits=False)
    p.update(np.exp(logp), y)
    assert math.isclose(p.result(), want, rel_tol=1e-5)


def test_doctor_refuses_non_classification_tasks_clearly():
    from ember.diagnose.cli import run_doctor
    with pytest.raises(ConfigError, match="checks classifiers.*'kjv_chars' is a language_model"):
        run_doctor(os.path.join(EXAMPLES, "charlm_kjv.toml"), verbose=False)


def test_data_sizes_fill_nested_layers_and_build_before_the_data(tmp_path):
    """TimeDistributed(Dense("data.vocab_size")): the reference inside the wrapped layer is
    filled from the sizes load_data records, and build_model makes every weight on a zero batch
    of the task's input shape (so an optimizer, the doctor and a search see them)."""
    from ember.cli.train import build_model
    text = SEQ.replace('type = "Dense"\nunits = "data.vocab_size"',
                       'type = "TimeDistributed"\nlayer = {type = "Dense", '
                       'units = "data.vocab_size"}')
    cfg = _check(tmp_path, text)
    assert cfg["model"]["layers"][2]["kwargs"]["layer"]["refs"] == {"units": "vocab_size"}
    cfg["data"]["sizes"] = {"vocab_size": 11, "seq_len": 50}
    net, mults = build_model(cfg)
    shapes = sorted(tuple(p.shape) for p in net.parameters())
    assert (11, 16) in shapes and (11, 32) in shapes      # Embedding table, Dense kernel
    import ember
    with ember.no_grad():
        assert tuple(net(np.zeros((3, 50), np.int64)).shape) == (3, 50, 11)
    del cfg["data"]["sizes"]
    with pytest.raises(ConfigError, match="gave no 'vocab_size'"):
        build_model(cfg)


def test_search_trial_runs_a_sequence_config():
    from ember.tune.config_trial import train_trial
    cfg = load_config(os.path.join(EXAMPLES, "forecast_vega.toml"))
    try:
        logs = train_trial(cfg, epochs=2, seed=0, run_dir="unused", validation_size=200,
                           tensorboard=False)
    except DatasetNotFoundError as e:
        pytest.skip(f"vega-datasets missing: {e}")
    assert set(logs) == {"loss", "mae", "val_loss", "val_mae"}
    assert logs["val_mae"] < 0.8          # standardised units: below predicting the mean (~0.8)
