"""`ember train` config checking: mistakes are reported with their line and allowed values."""
import textwrap

import pytest

from ember.cli.config import ConfigError, load_config

GOOD = """\
[data]
dataset = "fashion_mnist"

[[model.layers]]
type = "Linear"
in_features = 784
out_features = 10
lr_mult = 2.0

[solver]
optimizer = "sgd"
base_lr = 0.1
batch_size = 32
"""


def write(tmp_path, text):
    p = tmp_path / "cfg.toml"
    p.write_text(textwrap.dedent(text))
    return str(p)


def test_good_config_gets_defaults(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg["solver"]["base_lr"] == 0.1 and cfg["solver"]["max_epochs"] == 1
    assert cfg["model"]["layers"][0]["lr_mult"] == 2.0
    assert cfg["model"]["layers"][0]["kwargs"] == {"in_features": 784, "out_features": 10}


@pytest.mark.parametrize("old,new,line,words", [
    ('optimizer = "sgd"', 'optimizer = "sgdd"', 11, ["'sgdd' is not allowed", "rmsprop"]),
    ("base_lr = 0.1", "base_lr = -1", 12, ["base_lr", "> 0"]),
    ("batch_size = 32", "batchsize = 32", 13, ["unknown key", "batch_size"]),
    ("in_features = 784", "in_feature = 784", 6, ["no argument 'in_feature'", "in_features"]),
    ('type = "Linear"', 'type = "Linearr"', 5, ["'Linearr' is not a layer", "Conv2d"]),
    ('dataset = "fashion_mnist"', 'dataset = "imagenet"', 2, ["imagenet", "fashion_mnist"]),
    ("out_features = 10", "out_features = -3", 7, ["out_features", "positive integer"]),
])
def test_mistakes_name_line_and_allowed_values(tmp_path, old, new, line, words):
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert f"cfg.toml:{line}:" in msg, msg
    for w in words:
        assert w in msg, msg


def test_missing_required_layer_argument(tmp_path):
    path = write(tmp_path, GOOD.replace("out_features = 10\n", ""))
    with pytest.raises(ConfigError, match="needs out_features"):
        load_config(path)


def test_unknown_section_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown section \[trainer\]"):
        load_config(write(tmp_path, GOOD + "\n[trainer]\nx = 1\n"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[solver\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.toml"))
