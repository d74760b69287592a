"""``ember doctor CONFIG.toml`` (ember.diagnose.cli)."""
import pytest

from ember.diagnose.cli import main, run_doctor

CONFIG = """
[data]
dataset = "fashion_mnist"
layout = "flat"

[[model.layers]]
type = "Linear"
in_features = 784
out_features = 64

[[model.layers]]
type = "ReLU"

[[model.layers]]
type = "Linear"
in_features = 64
out_features = 10

[solver]
optimizer = "{opt}"
base_lr = {lr}
batch_size = 64
max_epochs = 1
"""


def write(tmp_path, opt="rmsprop", lr=0.001):
    p = tmp_path / "cfg.toml"
    p.write_text(CONFIG.format(opt=opt, lr=lr))
    return str(p)


def test_healthy_config(tmp_path, fmnist, capsys):
    found = run_doctor(write(tmp_path), samples=600, steps=24, lr_steps=30,
                       data=(fmnist[0].reshape(-1, 784), fmnist[1]))
    out = capsys.readouterr().out
    checks = {f.check: f.severity for f in found}
    assert checks["initial_loss"] == "ok" and checks["overfit_tiny"] == "ok"
    assert checks["activations"] == "ok" and "lr_finder" in checks
    assert not [f for f in found if f.severity == "error"], out
    assert "ember doctor:" in out
    assert not (tmp_path / "runs").exists()          # no run folder


def test_exploding_config_exits_1(tmp_path, fmnist, capsys, monkeypatch):
    import ember.diagnose.cli as cli
    real = cli.run_doctor
    monkeypatch.setattr(cli, "run_doctor", lambda path, **kw: real(
        path, **{**kw, "samples": 600, "lr_steps": 0, "data": fmnist}))
    code = main([write(tmp_path, "sgd", 1e6), "--steps", "10", "--no-overfit"])
    out = capsys.readouterr().out
    assert code == 1 and "loss_exploding" in out and "learning rate 1e+06" in out


def test_bad_config_exits_2(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text(CONFIG.format(opt="nosuch", lr=0.1))
    assert main([str(p)]) == 2
    assert "nosuch" in capsys.readouterr().err
