"""Two worker processes on one SQLite study: every trial runs once, and a worker killed in the
middle of a trial loses nothing — the other fails the stale trial and runs its parameters again."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("sqlalchemy")

WORKER = textwrap.dedent("""
    import os, sys, time
    import optuna
    import ember.tune as tune
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url, log, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
    storage = tune.make_storage(url, heartbeat=1, grace=3)

    def objective(trial):
        with open(log, "a") as f:   # one line per trial started: (worker, trial, params)
            f.write(f"{index} {trial.number} {trial.params['x']!r}\\n")
        time.sleep(0.4)
        return (trial.params["x"] - 0.3) ** 2

    study = optuna.create_study(storage=storage, study_name="s", load_if_exists=True)
    sampler = optuna.samplers.RandomSampler(seed=index)
    while True:
        tune.run(objective, {"x": tune.uniform(0, 1)}, 10, sampler=sampler, seed=0,
                 study=study, stage="only")
        optuna.storages.fail_stale_trials(study)
        trials = [t for t in study.get_trials() if t.user_attrs.get("stage") == "only"]
        busy = [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
        if not busy:
            break
        time.sleep(0.3)
""")


def _start(tmp_path, url, log, index):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        os.environ.get("PYTHONPATH")])))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    return subprocess.Popen([sys.executable, str(script), url, str(log), str(index)], env=env)


def test_killed_worker_loses_no_trial_and_none_runs_twice(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    log = tmp_path / "started.txt"
    optuna.create_study(storage=url, study_name="s")  # tables exist before the race
    a = _start(tmp_path, url, log, 1)
    b = _start(tmp_path, url, log, 2)
    deadline = time.time() + 60
    while time.time() < deadline:  # kill worker 1 while it is inside a trial
        lines = log.read_text().splitlines() if log.exists() else []
        mine = [ln for ln in lines if ln.startswith("1 ")]
        if len(mine) >= 2:
            time.sleep(0.1)
            a.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    else:
        pytest.fail("worker 1 never started two trials")
    a.wait(timeout=10)
    assert b.wait(timeout=120) == 0

    study = optuna.load_study(study_name="s", storage=url)
    states = [t.state.name for t in study.trials]
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 10, states
    assert states.count("RUNNING") == 0 and states.count("WAITING") == 0
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert len(failed) == 1  # the trial worker 1 was killed in
    retried = [t for t in done if t.system_attrs.get("failed_trial") == failed[0].number]
    assert len(retried) == 1 and retried[0].params == failed[0].params
    # no trial number started twice, and no completed parameter set except the retry repeats
    started = [ln.split()[1] for ln in log.read_text().splitlines()]
    assert len(started) == len(set(started))
    params = [t.params["x"] for t in done]
    assert len(set(params)) == len(params)
