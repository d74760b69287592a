"""Checkpoint hardening: refused file kinds, absurd headers, crash-safe saves that keep
permissions and symlinks, and all-or-nothing loads into models and optimizers."""
import json
import os
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember import optim
from ember.io import CheckpointError, load, save
from ember.io import checkpoint as ckpt


def raw_file(path, header, data=b""):
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(head)) + head + data)
    return path


# ---------------------------------------------------------------- what load accepts
def test_directory_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        load(tmp_path)


def test_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "ck.fifo"
    os.mkfifo(fifo)
    out = {}

    def run():
        try:
            load(fifo)
        except BaseException as exc:  # noqa: BLE001 - reported below
            out["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    blocked = t.is_alive()
    if blocked:  # let the thread's open() return so the test process can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        t.join(10)
    assert not blocked, "load() blocked on a FIFO"
    assert isinstance(out.get("exc"), CheckpointError) and "not a regular file" in str(out["exc"])


ABSURD = {
    "zero with huge extents": ({"dtype": "F32", "shape": [0, 2 ** 62, 2 ** 62], "data_offsets": [0, 0]}, b""),
    "zero with a 31-digit extent": ({"dtype": "F32", "shape": [0, 10 ** 30], "data_offsets": [0, 0]}, b""),
    "100 dimensions": ({"dtype": "F32", "shape": [0] * 100, "data_offsets": [0, 0]}, b""),
    "70 dimensions of 1": ({"dtype": "U8", "shape": [1] * 70, "data_offsets": [0, 1]}, b"\0"),
    "offsets beyond 2**64": ({"dtype": "U8", "shape": [1], "data_offsets": [2 ** 64, 2 ** 64 + 1]}, b"\0"),
}


@pytest.mark.parametrize("entry,data", list(ABSURD.values()), ids=list(ABSURD))
def test_absurd_shapes_and_offsets_give_checkpoint_error(tmp_path, entry, data):
    path = raw_file(tmp_path / "c", {"a": entry}, data)
    with pytest.raises(CheckpointError, match=r"c: tensor 'a'"):
        load(path)


# ---------------------------------------------------------------- saving
_KILLER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from ember.io import checkpoint as ckpt
    def dying_write(f, arr):
        f.write(arr.tobytes()[:64])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # killed mid-write: no cleanup can run
    ckpt._write_tensor_bytes = dying_write
    ckpt.save({"w": np.zeros(1000)}, sys.argv[1])
""")


def test_save_killed_mid_write_leaves_no_orphan_after_the_next_save(tmp_path):
    path = tmp_path / "c.ember"
    save({"w": np.arange(3.0)}, path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(path)], env=env, timeout=120)
    assert proc.returncode == -9
    orphans = [p.name for p in tmp_path.iterdir() if p.name != "c.ember"]
    assert len(orphans) == 1 and orphans[0].startswith(".c.ember.")  # the killed save's temp
    np.testing.assert_array_equal(load(path)["w"], np.arange(3.0))  # old file intact
    save({"w": np.arange(4.0)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["c.ember"]
    np.testing.assert_array_equal(load(path)["w"], np.arange(4.0))


def test_stale_temp_rules(tmp_path, monkeypatch):
    path = tmp_path / "c.ember"
    host = ckpt._host_tag()
    live_other = tmp_path / f".c.ember.{host}-{os.getppid()}-{'a' * 12}.tmp"  # a live writer
    same_pid = tmp_path / f".c.ember.{host}-{os.getpid()}-{'b' * 12}.tmp"  # not ours: a dead namesake
    old_style = tmp_path / f".c.ember.{'c' * 12}.tmp"  # earlier ember, an hour untouched
    other_target = tmp_path / f".d.ember.{host}-999999999-{'d' * 12}.tmp"
    for p in (live_other, same_pid, old_style, other_target):
        p.write_bytes(b"partial")
    hour_ago = time.time() - 2 * 3600
    os.utime(old_style, (hour_ago, hour_ago))
    save({"v": 1}, path)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"c.ember", live_other.name, other_target.name}
    os.utime(live_other, (hour_ago, hour_ago))  # no write for two hours: stale too
    save({"v": 2}, path)
    assert {p.name for p in tmp_path.iterdir()} == {"c.ember", other_target.name}


def test_save_keeps_permission_bits(tmp_path):
    path = tmp_path / "c.ember"
    save({"v": 1}, path)
    for mode in (0o600, 0o640, 0o444):
        os.chmod(path, mode)
        save({"v": 2}, path)
        assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert load(path) == {"v": 2}


def test_save_writes_through_a_symlink(tmp_path):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    target = real_dir / "best.ember"
    save({"v": 1}, target)
    link = tmp_path / "latest.ember"
    link.symlink_to(os.path.relpath(target, tmp_path))
    save({"v": 2}, link)
    assert link.is_symlink() and load(target) == {"v": 2} and load(link) == {"v": 2}
    assert sorted(p.name for p in real_dir.iterdir()) == ["best.ember"]
    dangling = tmp_path / "new.ember"
    dangling.symlink_to(real_dir / "fresh.ember")
    save({"v": 3}, dangling)
    assert dangling.is_symlink() and load(real_dir / "fresh.ember") == {"v": 3}


def test_save_onto_a_directory_fails_before_writing(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save({"v": 1}, tmp_path / "d")
    assert os.listdir(tmp_path / "d") == [] and sorted(os.listdir(tmp_path)) == ["d"]


# ---------------------------------------------------------------- all-or-nothing loads
def _model(seed=0):
    ember.manual_seed(seed)
    m = ember.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    m.compile(optimizer="adam", loss="cross_entropy")
    return m


def _trained(seed=0):
    m = _model(seed)
    rng = np.random.default_rng(seed)
    m.fit(rng.standard_normal((32, 4)).astype(np.float32), rng.integers(0, 3, 32),
          epochs=1, batch_size=8, verbose=0)
    return m


def _snapshot(m):
    opt = m.optimizer.state_dict() if m.optimizer is not None else None
    return ([p.data.copy() for p in m.parameters()], opt,
            ember.random.get_generator().bit_generator.state, m._epoch)


def _assert_same(m, snap):
    weights, opt, rng, epoch = snap
    for a, p in zip(weights, m.parameters()):
        np.testing.assert_array_equal(a, p.data)
    if opt is None:
        assert m.optimizer is None
    else:
        now = m.optimizer.state_dict()
        assert now["param_groups"] == opt["param_groups"]
        assert now["state"].keys() == opt["state"].keys()
        for k in opt["state"]:
            for name, v in opt["state"][k].items():
                np.testing.assert_array_equal(now["state"][k][name], v)
    assert ember.random.get_generator().bit_generator.state == rng
    assert m._epoch == epoch


def _tampered(tmp_path, change):
    src = _trained(seed=1)
    src.save(tmp_path / "ok.ember")
    state = load(tmp_path / "ok.ember")
    change(state)
    save(state, tmp_path / "bad.ember")
    return tmp_path / "bad.ember"


CORRUPTIONS = {
    "optimizer state for another optimizer": lambda s: s["optimizer"]["state"]["0"].update(
        exp_avg=np.zeros(99, np.float32)),
    "optimizer param_groups not a list": lambda s: s["optimizer"].update(param_groups={"a": 1}),
    "optimizer state key not an index": lambda s: s["optimizer"]["state"].update(x={}),
    "random state malformed": lambda s: s["rng"].update(state="not a number"),
    "random state for another generator": lambda s: s["rng"].update(bit_generator="MT19937"),
    "epoch not an int": lambda s: s.update(epoch="3"),
    "weights of the wrong shape": lambda s: s["model"].update({"2.bias": np.zeros(7, np.float32)}),
    "weights not numbers": lambda s: s["model"].update({"2.bias": "abc"}),
    "weights missing": lambda s: s["model"].pop("2.bias"),
}


@pytest.mark.parametrize("change", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_model_load_is_all_or_nothing(tmp_path, change):
    path = _tampered(tmp_path, change)
    m = _trained(seed=2)
    snap = _snapshot(m)
    with pytest.raises(CheckpointError, match="bad.ember"):
        m.load(path)
    _assert_same(m, snap)


def test_model_load_into_an_optimizer_not_built_yet_stays_unbuilt(tmp_path):
    path = _tampered(tmp_path, CORRUPTIONS["optimizer state for another optimizer"])
    m = _model(seed=3)
    assert m.optimizer is None
    snap = _snapshot(m)
    with pytest.raises(CheckpointError, match="optimizer state does not fit"):
        m.load(path)
    _assert_same(m, snap)


def test_model_load_still_restores_everything(tmp_path):
    src = _trained(seed=1)
    src.save(tmp_path / "ok.ember")
    expected = _snapshot(src)
    ember.manual_seed(123)
    m = _trained(seed=2)
    ember.random.get_generator().bit_generator.state = expected[2]
    ember.manual_seed(5)
    assert m.load(tmp_path / "ok.ember") == src._epoch
    _assert_same(m, expected)


def test_load_state_dict_checks_every_value_before_copying_any():
    lin = nn.Linear(2, 2)
    before = lin.weight.data.copy()
    bad = {"weight": np.ones((2, 2), np.float32), "bias": np.array(["x", "y"])}
    with pytest.raises(RuntimeError, match="bias: checkpoint holds ndarray of dtype <U1"):
        lin.load_state_dict(bad)
    np.testing.assert_array_equal(lin.weight.data, before)


def test_load_weights_mismatch_is_a_checkpoint_error(tmp_path):
    save({"0.weight": np.zeros((9, 9), np.float32)}, tmp_path / "w.ember")
    m = _model()
    before = [p.data.copy() for p in m.parameters()]
    with pytest.raises(CheckpointError, match="w.ember: its weights do not fit"):
        m.load_weights(tmp_path / "w.ember")
    for a, p in zip(before, m.parameters()):
        np.testing.assert_array_equal(a, p.data)


def test_optimizer_load_state_dict_rejects_malformed_types_unchanged():
    p = ember.Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = ember.Tensor(np.ones(3, np.float32))
    opt.step()
    good = opt.state_dict()
    for bad in ({"state": [], "param_groups": good["param_groups"]},
                {"state": {"0": 5}, "param_groups": good["param_groups"]},
                {"state": {}, "param_groups": [{"params": "0", "lr": 1.0}]},
                {"state": {"zero": {}}, "param_groups": good["param_groups"]},
                {"state": {"0": {**good["state"]["0"], "exp_avg": np.array(list("abc"))}},
                 "param_groups": good["param_groups"]}):
        with pytest.raises(ValueError, match="load_state_dict"):
            opt.load_state_dict(bad)
        assert opt.state_dict()["param_groups"] == good["param_groups"]
        np.testing.assert_array_equal(opt.state[p]["exp_avg"], good["state"]["0"]["exp_avg"])
