"""`ember train` configs found wanting by a hostile user: output paths stay in the run folder,
huge layers are refused before allocation, bad numbers are errors at their line, and Caffe's
per-blob lr_mult works."""
import os

import numpy as np
import pytest

from ember.cli import main
from ember.cli.config import ConfigError, load_config
from tests.train.test_cli import config, run_dir, tiny_data  # noqa: F401 (fixture)


def _line(text, needle):
    return [i for i, l in enumerate(text.splitlines(), 1) if l.strip().startswith(needle)][0]


def _bad(tmp_path, tiny_data, old, new):
    text = open(config(tmp_path, tiny_data)).read()
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return str(path), text


@pytest.mark.parametrize("prefix,words", [
    ("../escape", "leaves the run folder"), ("/tmp/abs", "absolute path"),
    ("a/../../b", "leaves the run folder"), ("snaps/", "ends with a folder")])
def test_snapshot_prefix_must_stay_inside_the_run_folder(tmp_path, tiny_data, capsys, prefix,
                                                         words):
    path, text = _bad(tmp_path, tiny_data, 'snapshot_prefix = "tiny"',
                      f'snapshot_prefix = "{prefix}"')
    assert main(["train", path]) == 2
    err = capsys.readouterr().err
    assert f"bad.toml:{_line(text, 'snapshot_prefix')}:" in err and words in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_snapshot_prefix_sub_folders_are_created(tmp_path, tiny_data):
    path, _ = _bad(tmp_path, tiny_data, 'snapshot_prefix = "tiny"',
                   'snapshot_prefix = "snapshots/lenet"')
    assert main(["train", path, "--quiet", "--epochs", "1"]) == 0
    assert (run_dir(tmp_path) / "snapshots" / "lenet_e1.safetensors").is_file()


def test_a_layer_too_large_for_memory_is_refused_with_its_size_without_allocating(
        tmp_path, tiny_data, capsys):
    path, text = _bad(tmp_path, tiny_data, "out_features = 16", "out_features = 100000000000")
    assert main(["train", path]) == 2
    err = capsys.readouterr().err
    n = 784 * 100000000000 + 100000000000
    line = _line(text, 'type = "Linear"')
    assert f"{4 * n:,} bytes" in err and f"bad.toml:{line}:" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("old,new,key,words", [
    ("gamma = 0.5", "gamma = inf", "gamma", "expected a number > 0"),
    ("base_lr = 0.05", "base_lr = nan", "base_lr", "expected a number > 0"),
    ('type = "ReLU"', 'type = "BatchNorm1d"\nnum_features = 16\neps = -1e-5', "eps", "> 0"),
    ('type = "ReLU"', 'type = "LeakyReLU"\nnegative_slope = inf', "negative_slope", "finite"),
    ('type = "ReLU"', 'type = "Embedding"\nnum_embeddings = 10\nembedding_dim = 4',
     'type = "Embedding"', "integer indices"),
])
def test_bad_numbers_and_embedding_on_float_data_are_errors_at_their_line(
        tmp_path, tiny_data, capsys, old, new, key, words):
    path, text = _bad(tmp_path, tiny_data, old, new)
    assert main(["train", path]) == 2
    err = capsys.readouterr().err
    assert f"bad.toml:{_line(text, key)}:" in err and words in err, err
    assert "Traceback" not in err


def test_weight_and_bias_lr_mult_can_differ(tmp_path, tiny_data):
    path, _ = _bad(tmp_path, tiny_data, "lr_mult = 0.5", "lr_mult = [1.0, 2.0]\n"
                                                         "decay_mult = [1.0, 0.0]")
    cfg = load_config(path)
    assert cfg["model"]["layers"][2]["lr_mult"] == [1.0, 2.0]
    from ember.cli.train import build_model, make_optimizer, param_groups
    net, mults = build_model(cfg)
    cfg["solver"]["weight_decay"] = 0.01
    groups = param_groups(net, mults, cfg["solver"])
    by_param = {id(p): (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    assert by_param[id(net[2].weight)] == (0.05, 0.01)
    assert by_param[id(net[2].bias)] == (0.1, 0.0)
    make_optimizer(groups, cfg["solver"])
    assert main(["train", path, "--quiet", "--epochs", "1"]) == 0
    bad, _ = _bad(tmp_path, tiny_data, "lr_mult = 0.5", "lr_mult = [1.0, 2.0, 3.0]")
    with pytest.raises(ConfigError, match=r"3 values for 2 parameter\(s\) \(weight, bias\)"):
        load_config(bad)
