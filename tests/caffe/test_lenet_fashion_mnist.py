"""Acceptance: Caffe's examples/mnist LeNet (net and solver as Caffe ships them, shorter
max_iter) trains from an LMDB made by ``ember caffe convert-mnist`` from Fashion-MNIST to at
least 0.75 test accuracy in 500 iterations, snapshots where asked, and resumes.

About 60-100 s on a shared 2-core machine (500 LeNet iterations at batch 64), so it is marked
slow (deselect with -m 'not slow'). It runs the real command line in a subprocess, with one
BLAS thread: on a loaded 2-core machine two threads are several times slower."""
import os
import re
import shutil
import subprocess
import sys

import pytest

FMNIST = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _ember(args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "ember"] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_lenet_trains_on_fashion_mnist_lmdb(tmp_path, lmdb_mod):
    if not os.path.isfile(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")):
        pytest.skip(f"Fashion-MNIST not installed at {FMNIST} (apt install "
                    f"dataset-fashion-mnist)")
    ex = tmp_path / "examples" / "caffe"
    ex.mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "examples/caffe/lenet_train_test.prototxt"), ex)
    for split, pre in (("train", "train"), ("test", "t10k")):
        r = _ember(["caffe", "convert-mnist", f"{FMNIST}/{pre}-images-idx3-ubyte.gz",
                    f"{FMNIST}/{pre}-labels-idx1-ubyte.gz",
                    f"examples/caffe/fashion_mnist_{split}_lmdb"], tmp_path)
        assert r.returncode == 0, r.stderr
    solver = open(os.path.join(ROOT, "examples/caffe/lenet_solver.prototxt")).read()
    # shortened as the acceptance asks: 500 iterations, a snapshot at 250 and at the end,
    # one test (on 5,000 images) at the end
    for old, new in (("max_iter: 10000", "max_iter: 500"), ("snapshot: 5000", "snapshot: 250"),
                     ("test_iter: 100", "test_iter: 50\ntest_initialization: false")):
        assert old in solver
        solver = solver.replace(old, new)
    (ex / "lenet_solver.prototxt").write_text(solver)
    r = _ember(["train", "examples/caffe/lenet_solver.prototxt"], tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    log = r.stdout
    for it in (100, 200, 300, 400):
        assert re.search(rf"\] Iteration {it} \(.*\), loss = [\d.]+", log), log[-2000:]
        assert re.search(rf"\] Iteration {it}, lr = [\d.e-]+", log)
    acc = [float(a) for a in re.findall(r"Test net output #0: accuracy = ([\d.]+)", log)]
    assert re.search(r"\] Iteration 500, Testing net \(#0\)", log)
    assert len(acc) == 1 and acc[0] >= 0.75, log[-2000:]
    for it in (250, 500):
        for ext in ("caffemodel", "solverstate"):
            assert (ex / f"lenet_iter_{it}.{ext}").is_file(), it
    assert not (ex / "lenet_iter_260.caffemodel").exists()
    # resume from the iteration-250 solverstate: continues at 250, stops at 260
    (ex / "resume_solver.prototxt").write_text(
        solver.replace("max_iter: 500", "max_iter: 260").replace("test_interval: 500",
                                                                 "test_interval: 0"))
    r = _ember(["train", "examples/caffe/resume_solver.prototxt", "--snapshot",
                "examples/caffe/lenet_iter_250.solverstate"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Restoring previous solver status from examples/caffe/lenet_iter_250.solverstate" \
        in r.stdout
    assert "] Iteration 0, lr" not in r.stdout and "Optimization Done." in r.stdout
    assert (ex / "lenet_iter_260.caffemodel").is_file()
