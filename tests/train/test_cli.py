"""`ember train`: a tiny end-to-end run on synthetic IDX files, snapshots and resume, and errors
reported before training."""
import json
import os

import numpy as np
import pytest

from ember.cli import main
from ember.data import write_idx
from ember.io import load


@pytest.fixture
def tiny_data(tmp_path):
    """A 4-class problem in the Fashion-MNIST file format: the class sets a bright quadrant."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    root.mkdir()
    for split, n in (("train", 256), ("t10k", 64)):
        y = rng.integers(0, 4, n).astype(np.uint8)
        x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(y):
            r, q = divmod(int(c), 2)
            x[i, r * 14:(r + 1) * 14, q * 14:(q + 1) * 14] += 150
        write_idx(root / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", y)
    return root


def config(tmp_path, root, extra="", stepsize=8):
    text = f"""
[data]
dataset = "fashion_mnist"
root = "{root}"

[[model.layers]]
type = "Linear"
in_features = 784
out_features = 16

[[model.layers]]
type = "ReLU"

[[model.layers]]
type = "Linear"
in_features = 16
out_features = 4
lr_mult = 0.5

[solver]
optimizer = "sgd"
base_lr = 0.05
momentum = 0.9
lr_policy = "step"
gamma = 0.5
stepsize = {stepsize}
batch_size = 32
max_epochs = 3
snapshot = 1
snapshot_prefix = "tiny"
seed = 1
run_dir = "{tmp_path / 'runs'}"
{extra}
"""
    p = tmp_path / "tiny.toml"
    p.write_text(text)
    return str(p)


def run_dir(tmp_path):
    runs = sorted(os.listdir(tmp_path / "runs"))
    return tmp_path / "runs" / runs[-1]


def test_train_writes_a_run_folder_and_learns(tmp_path, tiny_data, capsys):
    assert main(["train", config(tmp_path, tiny_data), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "final test accuracy" in out
    d = run_dir(tmp_path)
    names = set(os.listdir(d))
    assert {"config.toml", "metrics.csv", "report.json", "report.txt", "final.safetensors",
            "tiny_e1.safetensors", "tiny_e3.safetensors"} <= names
    report = json.loads((d / "report.json").read_text())
    assert report["test_accuracy"] > 0.9
    # lr policy 'step' per iteration (8 iterations per epoch): lr halves every 8 iterations,
    # and the last layer's group runs at lr_mult 0.5
    rows = (d / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    lrs = [float(r.split(",")[header.index("lr")]) for r in rows[1:]]
    np.testing.assert_allclose(lrs, [0.05 * 0.5 ** 0, 0.05 * 0.5 ** 1, 0.05 * 0.5 ** 2])


def test_resume_from_snapshot_equals_uninterrupted(tmp_path, tiny_data):
    # stepsize 3 (8 iterations per epoch): the lr has already decayed twice at the snapshot
    cfg = config(tmp_path, tiny_data, stepsize=3)
    assert main(["train", cfg, "--quiet"]) == 0
    full = load(run_dir(tmp_path) / "final.safetensors")["model"]
    snap = run_dir(tmp_path) / "tiny_e1.safetensors"
    cfg2 = config(tmp_path, tiny_data, extra=f'resume = "{snap}"', stepsize=3)
    assert main(["train", cfg2, "--quiet"]) == 0
    resumed = load(run_dir(tmp_path) / "final.safetensors")["model"]
    for k in full:
        np.testing.assert_array_equal(full[k].data, resumed[k].data, err_msg=k)


def test_config_mistake_is_reported_before_training(tmp_path, tiny_data, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(open(config(tmp_path, tiny_data)).read().replace(
        'optimizer = "sgd"', 'optimizer = "sgd"\nlr_polcy = "step"'))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml:" in err and "lr_polcy" in err and "lr_policy" in err
    assert not (tmp_path / "runs").exists()


def test_help_explains(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for word in ("lr_policy", "lr_mult", "snapshot", "resume", "batch_size"):
        assert word in out


@pytest.mark.parametrize("old,new,words", [
    ('momentum = 0.9', 'momentum = 0.9\nnesterov = "no"', ["nesterov", "true or false"]),
    ('optimizer = "sgd"', 'optimizer = "adam"', ["momentum applies to sgd and rmsprop"]),
    ('out_features = 16', 'out_features = "16"', ["expected a number"]),
    ('in_features = 16', 'in_features = 17', ["layer 2 (Linear) does not fit", "17"]),
    ('seed = 1', 'seed = 1\nresume = "missing.safetensors"', ["no such snapshot"]),
])
def test_more_mistakes_reported_before_training(tmp_path, tiny_data, capsys, old, new, words):
    path = tmp_path / "bad.toml"
    text = open(config(tmp_path, tiny_data)).read()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err, err
    assert not (tmp_path / "runs").exists()  # nothing written


def test_missing_type_points_at_its_own_table(tmp_path, tiny_data, capsys):
    text = open(config(tmp_path, tiny_data)).read().replace('type = "ReLU"\n', "", 1)
    path = tmp_path / "notype.toml"
    path.write_text(text)
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    line = text.splitlines().index("[[model.layers]]", 8) + 1  # the second layer's header
    assert f"notype.toml:{line}:" in err, err


def test_two_runs_in_one_second_get_their_own_folders(tmp_path, tiny_data):
    from ember.cli.train import _new_run_dir
    a, b = _new_run_dir(str(tmp_path), "x"), _new_run_dir(str(tmp_path), "x")
    assert a != b and os.path.isdir(a) and os.path.isdir(b)
