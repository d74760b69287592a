"""Caffe's solver: learning-rate policies, update rules, the loop's log lines, snapshots,
resume, and every bad file reported before the first iteration."""
import math
import os

import numpy as np
import pytest

from ember.caffe import CaffeError, Msg, Solver, from_text, load_caffemodel
from ember.caffe.log import CaffeLog
from ember.caffe.lr_policy import LearningRate
from ember.caffe.updates import Updater

from .conftest import make_db


def sp(**kw):
    return Msg("SolverParameter", **kw)


@pytest.mark.parametrize("policy, kw, it, want", [
    ("fixed", {}, 7, 0.1),
    ("step", {"gamma": 0.5, "stepsize": 3}, 7, 0.1 * 0.5 ** 2),
    ("exp", {"gamma": 0.9}, 4, 0.1 * 0.9 ** 4),
    ("inv", {"gamma": 1e-4, "power": 0.75}, 500, 0.1 * (1 + 1e-4 * 500) ** -0.75),
    ("multistep", {"gamma": 0.1, "stepvalue": [2, 5]}, 5, 0.1 * 0.01),
    ("poly", {"power": 2.0, "max_iter": 10}, 4, 0.1 * (1 - 0.4) ** 2),
    ("sigmoid", {"gamma": -0.5, "stepsize": 6}, 4, 0.1 / (1 + math.exp(0.5 * (4 - 6)))),
])
def test_lr_policies(policy, kw, it, want):
    lr = LearningRate(sp(base_lr=0.1, lr_policy=policy, **kw))
    for i in range(it):          # multistep advances its step as iterations pass
        lr.rate(i)
    assert lr.rate(it) == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("kind", ["SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"])
def test_update_rules_two_steps(kind):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5).astype(np.float32)
    gs = [rng.standard_normal(5).astype(np.float32) for _ in range(2)]
    p = sp(momentum=0.9, delta=1e-8, rms_decay=0.98, momentum2=0.999)
    u = Updater(kind, p, [(5,)])
    w = w0.copy()
    rate = 0.01
    for it, g in enumerate(gs):
        u.update(0, w, g, rate, it)
    # Caffe's formulas, written out in float64
    w_, h, h2 = w0.astype(np.float64), np.zeros(5), np.zeros(5)
    for it, g in enumerate(gs):
        g = g.astype(np.float64)
        if kind == "SGD":
            h = 0.9 * h + rate * g
            w_ = w_ - h
        elif kind == "Nesterov":
            prev = h
            h = 0.9 * h + rate * g
            w_ = w_ - (1.9 * h - 0.9 * prev)
        elif kind == "AdaGrad":
            h = h + g * g
            w_ = w_ - rate * g / (np.sqrt(h) + 1e-8)
        elif kind == "RMSProp":
            h = 0.98 * h + 0.02 * g * g
            w_ = w_ - rate * g / (np.sqrt(h) + 1e-8)
        elif kind == "AdaDelta":
            h = 0.9 * h + 0.1 * g * g
            upd = g * np.sqrt((h2 + 1e-8) / (h + 1e-8))
            h2 = 0.9 * h2 + 0.1 * upd * upd
            w_ = w_ - rate * upd
        else:
            h = 0.9 * h + 0.1 * g
            h2 = 0.999 * h2 + 0.001 * g * g
            t = it + 1
            w_ = w_ - rate * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * h / (np.sqrt(h2) + 1e-8)
    np.testing.assert_allclose(w, w_, rtol=1e-5, atol=1e-6)


NET = '''name: "small"
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        transform_param { scale: 0.00390625 }
        data_param { source: "train_lmdb" batch_size: 8 backend: LMDB } }
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TEST }
        transform_param { scale: 0.00390625 mean_value: 10 }
        data_param { source: "test_lmdb" batch_size: 16 backend: LMDB } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        param { lr_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "msra" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "drop" type: "Dropout" bottom: "pool" top: "pool"
        dropout_param { dropout_ratio: 0.2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip"
        inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }
layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy"
        include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
'''

SOLVER = '''net: "net.prototxt"
test_iter: 2
test_interval: 10
base_lr: 0.05
momentum: 0.9
weight_decay: 0.0005
lr_policy: "multistep"
gamma: 0.5
stepvalue: 8
stepvalue: 15
display: 5
max_iter: 20
snapshot: 10
snapshot_prefix: "snaps/small"
type: "TYPE"
random_seed: 3
solver_mode: CPU
'''


@pytest.fixture
def workdir(tmp_path, monkeypatch, lmdb_mod):
    monkeypatch.chdir(tmp_path)
    make_db(tmp_path / "train_lmdb", n=40, seed=1)
    make_db(tmp_path / "test_lmdb", n=32, seed=2)
    (tmp_path / "net.prototxt").write_text(NET)
    return tmp_path


def write_solver(path, **changes):
    text = SOLVER.replace("TYPE", changes.pop("type", "Nesterov"))
    for k, v in changes.items():
        lines = [l for l in text.splitlines() if not l.startswith(k + ":")]
        text = "\n".join(lines + ([f"{k}: {v}"] if v is not None else [])) + "\n"
    path.write_text(text)
    return str(path)


def weights(net):
    return {n: t.data.copy() for n, t, _, _ in net.learnable_blobs()}


def test_train_logs_snapshots_and_resume_continue_exactly(workdir):
    log = CaffeLog(quiet=True)
    s = Solver(write_solver(workdir / "solver.prototxt"), log=log)
    results = s.solve()
    lines = log.lines
    assert "Iteration 5, lr = 0.05" in lines and "Iteration 10, lr = 0.025" in lines
    assert "Iteration 15, lr = 0.0125" in lines
    assert any(l.startswith("Iteration 5 (") and ", loss = " in l for l in lines)
    assert any(l.startswith("    Train net output #0: loss = ") and "(* 1 = " in l
               for l in lines)
    assert "Iteration 0, Testing net (#0)" in lines and "Iteration 20, Testing net (#0)" in lines
    assert any(l.startswith("    Test net output #0: accuracy = ") for l in lines)
    assert any(l.startswith("    Test net output #1: loss = ") for l in lines)
    assert lines[-1] == "Optimization Done."
    assert set(results) == {"accuracy", "loss"} and 0 <= results["accuracy"] <= 1
    for n in (10, 20):
        assert (workdir / f"snaps/small_iter_{n}.caffemodel").is_file()
        assert (workdir / f"snaps/small_iter_{n}.solverstate").is_file()
    final = weights(s.net)
    # resume from iteration 10: the same weights at 20 as the uninterrupted run (dropout
    # masks aside: same seed, and the data cursor continues where it was)
    s2 = Solver(write_solver(workdir / "solver.prototxt", snapshot_prefix='"snaps/again"'),
                log=CaffeLog(quiet=True))
    s2.net.layer("drop").ratio = s.net.layer("drop").ratio = 0.0
    s2.restore("snaps/small_iter_10.solverstate")
    assert s2.iter == 10 and s2.lr.current_step == 1
    s3 = Solver(write_solver(workdir / "solver.prototxt", snapshot_prefix='"snaps/third"',
                             snapshot=5), log=CaffeLog(quiet=True))
    s3.net.layer("drop").ratio = 0.0
    s3.solve()
    # another seed, so only the weights and history from the snapshot can give s3's result
    log4 = CaffeLog(quiet=True)
    s4 = Solver(write_solver(workdir / "solver.prototxt", snapshot_prefix='"snaps/fourth"',
                             random_seed=9), log=log4)
    s4.net.layer("drop").ratio = 0.0
    s4.solve(resume="snaps/third_iter_5.solverstate")
    assert "Iteration 5, lr = 0.05" in log4.lines and "Iteration 0, lr = 0.05" not in log4.lines
    for k, v in weights(s3.net).items():
        np.testing.assert_allclose(weights(s4.net)[k], v, rtol=1e-5, atol=1e-7, err_msg=k)
    # the snapshot's weights load into a fresh net
    s5 = Solver(write_solver(workdir / "solver.prototxt", random_seed=9), log=CaffeLog(quiet=True))
    load_caffemodel("snaps/small_iter_20.caffemodel", s5.net)
    for k, v in final.items():
        np.testing.assert_array_equal(weights(s5.net)[k], v)


def test_lr_mult_decay_mult_per_blob(workdir):
    s = Solver(write_solver(workdir / "solver.prototxt", type="SGD", momentum=0,
                            weight_decay=0.1, max_iter=1, test_iter=None,
                            test_interval=0), log=CaffeLog(quiet=True))
    conv = s.net.layer("conv")
    w0, b0 = conv.weight.data.copy(), conv.bias.data.copy()
    s.net.forward()
    s.net.loss.backward()
    gw, gb = conv.weight.grad.data.copy(), conv.bias.grad.data.copy()
    s.net.layer("drop").ratio = 0.0
    s.apply_update(False)
    np.testing.assert_allclose(conv.weight.data, w0 - 0.05 * (gw + 0.1 * w0), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(conv.bias.data, b0 - 2 * 0.05 * gb, rtol=1e-5, atol=1e-7)


def _fails_before_training(solver_file, *words):
    log = CaffeLog(quiet=True)
    with pytest.raises(CaffeError) as e:
        Solver(solver_file, log=log).solve()
    msg = str(e.value)
    for w in words:
        assert w in msg, msg
    assert not any(l.startswith("Iteration") for l in log.lines)
    return msg


def test_bad_files_are_reported_before_the_first_iteration(workdir):
    s = workdir / "solver.prototxt"
    _fails_before_training(write_solver(s, net='"missing.prototxt"'),
                           "missing.prototxt: no such file")
    (workdir / "bad_net.prototxt").write_text(NET.replace('type: "ReLU"', 'type: "ReLu"'))
    msg = _fails_before_training(write_solver(s, net='"bad_net.prototxt"'),
                                 "unknown type 'ReLu'", "Convolution", "InnerProduct", "ReLU")
    line = NET.splitlines().index('layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }')
    assert msg.startswith(f"bad_net.prototxt:{line + 1}:22: layer 'relu'"), msg
    (workdir / "bad_net.prototxt").write_text(NET.replace('"test_lmdb"', '"nowhere_lmdb"'))
    _fails_before_training(write_solver(s, net='"bad_net.prototxt"'), "nowhere_lmdb",
                           "no LMDB database")
    (workdir / "bad_net.prototxt").write_text(NET.replace("kernel_size: 3",
                                                          "kernel_size: 3 kernal: 2"))
    line = [i for i, l in enumerate(NET.splitlines()) if "kernel_size: 3" in l][0] + 1
    _fails_before_training(write_solver(s, net='"bad_net.prototxt"'),
                           f"bad_net.prototxt:{line}:", "unknown field 'kernal'", "num_output")
    (workdir / "bad_net.prototxt").write_text(NET.replace('bottom: "pool" top: "ip"',
                                                          'bottom: "poll" top: "ip"'))
    _fails_before_training(write_solver(s, net='"bad_net.prototxt"'), "'poll'",
                           "no earlier layer")
    _fails_before_training(write_solver(s, lr_policy='"cosine"'), "unknown lr_policy 'cosine'",
                           "multistep", "sigmoid")
    _fails_before_training(write_solver(s, type="Adamm"), "unknown solver type 'Adamm'",
                           "AdaDelta")
    _fails_before_training(write_solver(s, net=None, train_net='"net.prototxt"',
                                        test_net='"net.prototxt"', test_iter="2\ntest_iter: 3"),
                           "2 test_iter values for 1 test nets")
    (workdir / "solver2.prototxt").write_text("net: 'net.prototxt'\nbase_lr: 0.1 max_iter 3\n")
    _fails_before_training(str(workdir / "solver2.prototxt"), "solver2.prototxt:2:23",
                           "expected ':'")


def test_gpu_mode_says_so_and_runs_on_cpu(workdir):
    log = CaffeLog(quiet=True)
    Solver(write_solver(workdir / "solver.prototxt", solver_mode="GPU", max_iter=1,
                        snapshot=0, test_interval=0), log=log).solve()
    assert any("solver_mode: GPU" in l and "CPU" in l for l in log.lines)
    assert "Optimization Done." in log.lines


def test_data_layer_reads_encoded_png_records(tmp_path, monkeypatch, lmdb_mod):
    Image = pytest.importorskip("PIL.Image", reason="encoded records need Pillow")
    import io
    from ember.caffe import Net
    from ember.caffe.wire import encode
    rng = np.random.default_rng(0)
    rgb = [rng.integers(0, 255, (4, 5, 3)).astype(np.uint8) for _ in range(3)]
    env = lmdb_mod.open(str(tmp_path / "png_lmdb"), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for i, a in enumerate(rgb):
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, format="PNG")
            txn.put(b"%08d" % i, encode(Msg("Datum", data=buf.getvalue(), label=i,
                                            encoded=True)))
    env.close()
    monkeypatch.chdir(tmp_path)
    net = Net(from_text('''layer { name: "d" type: "Data" top: "data" top: "label"
        transform_param { mean_value: 1 mean_value: 2 mean_value: 3 }
        data_param { source: "png_lmdb" batch_size: 2 backend: LMDB } }''', "NetParameter"),
              "TEST")
    assert net.blob_shapes["data"] == (2, 3, 4, 5)
    b1, b2 = net.forward(), net.forward()            # the second batch wraps around
    mean = np.array([1, 2, 3], np.float32)[:, None, None]
    bgr = [a[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) - mean for a in rgb]
    np.testing.assert_array_equal(b1["data"].data, np.stack(bgr[:2]))
    np.testing.assert_array_equal(b2["data"].data, np.stack([bgr[2], bgr[0]]))
    assert b2["label"].data.tolist() == [2, 0]
