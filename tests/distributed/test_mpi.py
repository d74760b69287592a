"""Data-parallel training on real MPI processes: each test starts ``mpirun -n 2`` on
``_worker.py`` (several checks per launch, since a launch costs seconds) and compares what the
ranks wrote with one process computing the same thing. Skipped, with the reason, when mpirun
or mpi4py is missing (CI installs both: scripts/setup.sh)."""
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import ember

from . import _models

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FMNIST = "/usr/share/datasets/fashion-mnist"

pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install 'ember[distributed]')")
if shutil.which("mpirun") is None:
    pytest.skip("mpirun not found (install Open MPI: apt-get install openmpi-bin)",
                allow_module_level=True)


def launch(tasks, out, timeout=120, env=None):
    from ember.distributed.launch import launch_env, mpirun_command
    e = launch_env(dict(os.environ, PYTHONPATH=ROOT, **(env or {})))
    cmd = mpirun_command(2, [sys.executable, os.path.join(HERE, "_worker.py"), tasks, str(out)])
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - t0


def ranks(out, task):
    return [dict(np.load(os.path.join(out, f"{task}-rank{r}.npz"))) for r in range(2)]


@pytest.fixture(scope="module")
def run_all(tmp_path_factory):
    """One launch: collectives, the 50-step equivalence, fit and (with the data) ember train."""
    out = tmp_path_factory.mktemp("mpi")
    tasks = "collectives,equivalence,fit"
    have_data = os.path.isdir(FMNIST) or os.environ.get("EMBER_DATA")
    if have_data:
        tasks += ",cli"
    p, _ = launch(tasks, out)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return out, p.stdout, bool(have_data)


def test_collective_values(run_all):
    out = run_all[0]
    for r in ranks(out, "collectives"):
        np.testing.assert_array_equal(r["sum"], [3.0, 6.0, 9.0])
        np.testing.assert_array_equal(r["max"], [1, 0])
        np.testing.assert_array_equal(r["avg"], np.full((2, 3), 0.5))
        np.testing.assert_array_equal(r["strided"], [[10.0, 14.0], [16.0, 20.0]])
        np.testing.assert_array_equal(r["bcast"], np.full(4, 6.0))  # from rank 1: 1 + 5
        np.testing.assert_array_equal(r["gather"], [[0.0] * 3, [1.0] * 3])


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_two_by_64_equals_one_by_128(run_all, kind):
    """50 SGD steps: 2 processes x batch 64 (DDP, SyncBatchNorm in the CNN) give the
    parameters and running statistics of 1 process x batch 128."""
    r0, r1 = ranks(run_all[0], "equivalence")
    net = _models.mlp() if kind == "mlp" else _models.cnn()
    ref = _models.state(_models.train(net, kind))
    assert ref
    for k, v in ref.items():
        np.testing.assert_array_equal(r0[f"{kind}/{k}"], r1[f"{kind}/{k}"], err_msg=k)
        np.testing.assert_allclose(r0[f"{kind}/{k}"], v, rtol=1e-4, atol=2e-6, err_msg=k)
    assert not np.allclose(ref[next(iter(ref))], _models.state(
        _models.mlp() if kind == "mlp" else _models.cnn())[next(iter(ref))])  # it trained


def test_no_sync_accumulates_locally(run_all):
    r0, r1 = ranks(run_all[0], "equivalence")
    assert not np.allclose(r0["nosync_local"], r1["nosync_local"])
    np.testing.assert_array_equal(r0["nosync_synced"], r1["nosync_synced"])
    # synced = average over ranks of (no_sync grad + second grad) = the two local grads x 2
    np.testing.assert_allclose(r0["nosync_synced"], r0["nosync_local"] + r1["nosync_local"],
                               rtol=1e-6)


def test_fit_matches_one_process_and_only_rank0_writes(run_all):
    out, stdout, _ = run_all
    (x, y), (xv, yv) = _models.fit_data()
    model = _models.fit_model()
    ember.manual_seed(7)
    hist = model.fit(x, y, batch_size=128, epochs=3, validation_data=(xv, yv), verbose=0)
    res = model.evaluate(xv, yv, batch_size=50, return_dict=True)
    r0, r1 = ranks(out, "fit")
    for k, v in hist.history.items():  # aggregated epoch logs and validation on both ranks
        np.testing.assert_allclose(r0[k], v, rtol=1e-5, err_msg=k)
        np.testing.assert_allclose(r1[k], v, rtol=1e-5, err_msg=k)
    for k, v in res.items():
        np.testing.assert_allclose(r0[f"eval_{k}"], v, rtol=1e-5)
        np.testing.assert_allclose(r1[f"eval_{k}"], v, rtol=1e-5)
    for k, v in _models.state(model).items():
        np.testing.assert_allclose(r0[f"w/{k}"], v, rtol=1e-5, atol=1e-7)
    assert os.path.exists(os.path.join(out, "log-rank0.csv"))
    assert not os.path.exists(os.path.join(out, "log-rank1.csv"))
    assert len(glob.glob(os.path.join(out, "ckpt-rank0-*.safetensors"))) == 3
    assert not glob.glob(os.path.join(out, "ckpt-rank1-*"))
    assert os.path.isdir(os.path.join(out, "tb-rank0"))
    assert not os.path.exists(os.path.join(out, "tb-rank1"))
    assert stdout.count("Epoch 1/3") == 1  # progress from rank 0 only


def test_ember_train_under_mpirun(run_all):
    out, stdout, have_data = run_all
    if not have_data:
        pytest.skip(f"Fashion-MNIST not found at {FMNIST} (scripts/setup.sh installs it)")
    runs = glob.glob(os.path.join(out, "runs", "*"))
    assert len(runs) == 1, runs  # one run folder, by rank 0
    for name in ("final.safetensors", "snapshot_e1.safetensors", "metrics.csv", "report.json"):
        assert os.path.exists(os.path.join(runs[0], name)), name
    with open(os.path.join(runs[0], "report.json")) as f:
        report = json.load(f)
    assert report["processes"] == 2
    assert 0.5 < report["test_accuracy"] <= 1.0
    assert stdout.count("final test accuracy") == 1
    assert all(int(r["code"]) == 0 for r in ranks(out, "cli"))


def test_killed_rank_ends_job_and_checkpoint_resumes(tmp_path):
    """Rank 1 is SIGKILLed in epoch 3: mpirun must end with an error (not hang), and the
    checkpoint of epoch 2 loads and resumes to the weights of an uninterrupted run."""
    p, seconds = launch("killed_fit", tmp_path, timeout=90)
    assert p.returncode != 0
    assert seconds < 60
    assert "signal 9" in p.stdout + p.stderr or "Killed" in p.stdout + p.stderr, p.stderr[-2000:]
    (x, y), _ = _models.fit_data()
    model = _models.fit_model()
    epoch = model.load(os.path.join(tmp_path, "last.safetensors"))
    assert epoch == 2
    model.fit(x, y, batch_size=128, epochs=6, initial_epoch=epoch, verbose=0)
    ref = _models.fit_model()
    ref.fit(x, y, batch_size=128, epochs=6, verbose=0)
    for k, v in _models.state(ref).items():
        np.testing.assert_allclose(_models.state(model)[k], v, rtol=1e-5, atol=1e-7,
                                   err_msg=k)


def test_stuck_peer_times_out_with_clear_error(tmp_path):
    """Rank 1 never joins the all_reduce: rank 0's wait gives up after the 2 s timeout,
    says so, and aborts the job (rank 1 would sleep for 60 s)."""
    p, seconds = launch("stuck", tmp_path, timeout=90, env={"WORKER_TIMEOUT": "2"})
    assert p.returncode != 0
    assert seconds < 40
    assert "did not complete within 2 s" in p.stderr, p.stderr[-2000:]


def test_exception_on_one_rank_ends_the_job(tmp_path):
    """fit raises on rank 1 only: the job must end at once with the error and the rank, not
    leave rank 0 waiting in the gradient all-reduce (worker timeout 60 s)."""
    p, seconds = launch("raises", tmp_path, timeout=90)
    assert p.returncode != 0
    assert seconds < 40
    assert "rank 1 of 2: fit failed with ValueError: boom on rank 1" in p.stderr, \
        p.stderr[-2000:]
