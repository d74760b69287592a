"""``ember train SOLVER.prototxt`` and ``ember caffe convert-mnist`` from the command line."""
import os

import numpy as np
import pytest

from ember.cli import main

from .conftest import make_db
from .test_solver import NET, write_solver


def test_convert_mnist_writes_caffe_datums(tmp_path, lmdb_mod):
    from ember.caffe.blob import decode_datum
    from ember.data.datasets.idx import write_idx
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (25, 7, 5)).astype(np.uint8)
    labels = rng.integers(0, 10, 25).astype(np.uint8)
    write_idx(tmp_path / "img-idx3-ubyte.gz", images)
    write_idx(tmp_path / "lab-idx1-ubyte", labels)
    db = tmp_path / "out_lmdb"
    assert main(["caffe", "convert-mnist", str(tmp_path / "img-idx3-ubyte.gz"),
                 str(tmp_path / "lab-idx1-ubyte"), str(db)]) == 0
    env = lmdb_mod.open(str(db), readonly=True, lock=False)
    with env.begin() as txn:
        keys = [k for k, _ in txn.cursor()]
        assert keys == [b"%08d" % i for i in range(25)]          # Caffe's key format
        img, label = decode_datum(txn.get(b"00000007"))
    env.close()
    assert img.shape == (1, 7, 5) and label == labels[7]
    np.testing.assert_array_equal(img[0], images[7])
    # a second run refuses to overwrite, as Caffe's converter
    assert main(["caffe", "convert-mnist", str(tmp_path / "img-idx3-ubyte.gz"),
                 str(tmp_path / "lab-idx1-ubyte"), str(db)]) == 2


def test_train_solver_prototxt_and_resume(tmp_path, monkeypatch, capsys, lmdb_mod):
    monkeypatch.chdir(tmp_path)
    make_db(tmp_path / "train_lmdb", n=40, seed=1)
    make_db(tmp_path / "test_lmdb", n=32, seed=2)
    (tmp_path / "net.prototxt").write_text(NET)
    write_solver(tmp_path / "solver.prototxt", max_iter=10, snapshot=5, test_interval=5,
                 type="SGD")
    assert main(["train", "solver.prototxt"]) == 0
    out = capsys.readouterr().out
    assert "Iteration 5, Testing net (#0)" in out and "Optimization Done." in out
    assert os.path.isfile("snaps/small_iter_5.solverstate")
    write_solver(tmp_path / "solver.prototxt", max_iter=12, snapshot=5, test_interval=5,
                 type="SGD", snapshot_prefix='"snaps/resumed"')
    assert main(["train", "solver.prototxt", "--snapshot", "snaps/small_iter_5.solverstate"]) == 0
    out = capsys.readouterr().out
    assert "Restoring previous solver status from snaps/small_iter_5.solverstate" in out
    assert "] Iteration 0, lr" not in out and "] Iteration 10, lr = 0.025" in out
    assert os.path.isfile("snaps/resumed_iter_12.caffemodel")     # snapshot_after_train


def test_train_reports_file_line_column(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.prototxt").write_text('net: "n.prototxt"\nbase_lr: 0.1\nmax_iter: 10 10\n')
    assert main(["train", "s.prototxt"]) == 2
    err = capsys.readouterr().err
    assert "s.prototxt:3:14: expected a field name, found '10'" in err
    (tmp_path / "n.prototxt").write_text('layer { name: "a" type: "Data" }')
    assert main(["train", "n.prototxt"]) == 2
    assert "is a net definition, not a solver" in capsys.readouterr().err
    assert main(["train", "absent.prototxt"]) == 2
    assert "absent.prototxt: no such file" in capsys.readouterr().err


def test_missing_optional_packages_say_what_to_install(tmp_path, monkeypatch):
    import sys
    from ember.caffe import CaffeError
    from ember.caffe.blob import decode_datum
    from ember.caffe.db import DatumDB
    from ember.caffe.message import Msg
    from ember.caffe.wire import encode
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "data.mdb").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "lmdb", None)           # import lmdb -> ImportError
    monkeypatch.setattr("ember.caffe.db._ENVS", {})
    with pytest.raises(CaffeError, match=r"pip install 'ember\[caffe\]'"):
        DatumDB(tmp_path / "db")
    monkeypatch.setitem(sys.modules, "PIL", None)
    raw = encode(Msg("Datum", data=b"\x89PNG....", encoded=True, label=1))
    with pytest.raises(CaffeError, match=r"Pillow: pip install 'ember\[images\]'"):
        decode_datum(raw, "some_lmdb")


def test_import_ember_does_not_import_the_caffe_extras():
    import subprocess
    import sys
    code = ("import sys, ember, ember.caffe; bad = [m for m in ('lmdb', 'google.protobuf', "
            "'PIL') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(
                           os.path.dirname(os.path.abspath(__file__))))))
    assert r.returncode == 0, r.stdout + r.stderr


def test_train_from_weights(tmp_path, monkeypatch, capsys, lmdb_mod):
    from ember.caffe import Net, load_caffemodel
    monkeypatch.chdir(tmp_path)
    make_db(tmp_path / "train_lmdb", n=40, seed=1)
    make_db(tmp_path / "test_lmdb", n=32, seed=2)
    (tmp_path / "net.prototxt").write_text(NET)
    write_solver(tmp_path / "solver.prototxt", max_iter=3, snapshot=0, test_interval=0,
                 type="Adam")
    assert main(["train", "solver.prototxt"]) == 0
    write_solver(tmp_path / "solver.prototxt", max_iter=0, snapshot=0, test_interval=0,
                 type="Adam", snapshot_prefix='"snaps/ft"', random_seed=5)
    capsys.readouterr()
    assert main(["train", "solver.prototxt", "--weights", "snaps/small_iter_3.caffemodel"]) == 0
    assert "Copying weights from snaps/small_iter_3.caffemodel" in capsys.readouterr().out
    a, b = Net.from_prototxt("net.prototxt"), Net.from_prototxt("net.prototxt")
    load_caffemodel("snaps/small_iter_3.caffemodel", a)
    load_caffemodel("snaps/ft_iter_0.caffemodel", b)
    np.testing.assert_array_equal(a.layer("ip").weight.data, b.layer("ip").weight.data)
    assert main(["train", "solver.prototxt", "--weights", "x.caffemodel", "--snapshot",
                 "y.solverstate"]) == 2


def test_compute_image_mean(tmp_path, lmdb_mod):
    from ember.caffe import read_binaryproto
    images, _ = make_db(tmp_path / "m_lmdb", n=12, shape=(2, 4, 3))
    assert main(["caffe", "compute-image-mean", str(tmp_path / "m_lmdb"),
                 str(tmp_path / "mean.binaryproto")]) == 0
    mean = read_binaryproto(tmp_path / "mean.binaryproto")
    assert mean.shape == (1, 2, 4, 3)                    # legacy 4-D, as Caffe's tool writes
    np.testing.assert_allclose(mean[0], images.mean(0), rtol=1e-6)
