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


def config(tmp_path, root, extra=""):
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
stepsize = 8
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
    cfg = config(tmp_path, tiny_data)
    assert main(["train", cfg, "--quiet"]) == 0
    full = load(run_dir(tmp_path) / "final.safetensors")["model"]
    snap = run_dir(tmp_path) / "tiny_e1.safetensors"
    cfg2 = config(tmp_path, tiny_data, extra=f'resume = "{snap}"')
    import time
    time.sleep(1.1)  # run folders are named by the second
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
