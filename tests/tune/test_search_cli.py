"""``ember search`` on the command line: errors, the worker processes, the results it leaves."""
import csv
import os
import subprocess
import sys
import textwrap

import pytest

optuna = pytest.importorskip("optuna")
from .test_search_fashion_mnist import BASE, _have_fashion_mnist  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _ember(args, cwd, extra_env=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get(
        "PYTHONPATH")])))
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "ember", "search", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_config_mistakes_are_named(tmp_path):
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "s.toml").write_text('[search]\nconfig = "base.toml"\n[space]\n'
                                     '"solver.base_lr" = {logarithmic = [1, 2]}\n')
    r = _ember(["s.toml"], tmp_path)
    assert r.returncode == 2
    assert "solver.base_lr" in r.stderr and "loguniform" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "s.toml").write_text('[search]\nconfig = "nope.toml"\n')
    r = _ember(["s.toml"], tmp_path)
    assert r.returncode == 2 and "nope.toml" in r.stderr


def test_without_optuna_the_message_says_what_to_install(tmp_path):
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "optuna.py").write_text("raise ImportError('blocked for the test')\n")
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "s.toml").write_text('[search]\nconfig = "base.toml"\n[space]\n'
                                     '"solver.base_lr" = {loguniform = [1e-3, 1]}\n')
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "block"), ROOT])}
    r = _ember(["s.toml"], tmp_path, env)
    assert r.returncode == 2
    assert "pip install" in r.stderr and "optuna" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not _have_fashion_mnist(), reason="Fashion-MNIST not installed")
def test_two_workers_share_one_study_and_leave_results(tmp_path):
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "s.toml").write_text(textwrap.dedent("""
        [search]
        config = "base.toml"
        train_limit = 1000
        validation_size = 1000
        workers = 2
        out = "out"

        [space]
        "solver.base_lr" = {loguniform = [1e-3, 1e-1]}

        [[stage]]
        name = "coarse"
        trials = 3
        epochs = 1

        [[stage]]
        name = "fine"
        trials = 2
        epochs = 1
        refine_top_k = 2
        """))
    r = _ember(["s.toml"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "best: trial" in r.stdout
    with open(tmp_path / "out" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["stage"] for row in rows) == ["coarse"] * 3 + ["fine"] * 2
    assert all(row["state"] == "COMPLETE" for row in rows)
    assert len({row["trial"] for row in rows}) == 5
    for name in ("scatter.png", "history.png", "report.html"):
        assert (tmp_path / "out" / name).is_file()
    # each trial leaves its config and a TensorBoard run with its hparams
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    trial_dir = tmp_path / "out" / "trials" / f"{int(rows[0]['trial']):04d}"
    assert (trial_dir / "config.toml").is_file()
    acc = EventAccumulator(str(trial_dir / "tensorboard"))
    acc.Reload()
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")


def test_the_example_search_file_is_valid():
    from ember.tune.search_config import load_search
    sc = load_search(os.path.join(ROOT, "examples", "search_mlp.toml"))
    assert [s.name for s in sc.stages] == ["coarse", "fine"]
    assert sc.stages[1].refine_top_k == 3 and sc.metric == "val_accuracy"
