import json
import math
import os
import pickle
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import ember

import ember.io as eio
from ember.io import CheckpointError, load, load_safetensors, save
from ember.io import checkpoint as ckpt

ALL_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64",
              "uint8", "uint16", "uint32", "uint64", "bool"]


def same_array(a, b):
    return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
            and a.tobytes() == b.tobytes())


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = rng.standard_normal(shape).astype(dt)
        flat = a.reshape(-1)
        specials = np.array([np.nan, np.inf, -np.inf, -0.0], dtype=dt)
        flat[: min(4, flat.size)] = specials[: min(4, flat.size)]
        return a
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
    if a.size >= 2:
        a.reshape(-1)[:2] = [info.min, info.max]
    return a


def raw_file(path, header, data=b"", pad=True):
    head = json.dumps(header).encode()
    if pad:
        head += b" " * (-len(head) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(head)) + head + data)
    return path


# --------------------------------------------------------------- round trips

@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (5,), (2, 3, 4)])
def test_every_dtype_round_trips_exactly(tmp_path, dtype, shape):
    a = sample(dtype, shape)
    save({"x": a}, tmp_path / "c.ember")
    b = load(tmp_path / "c.ember")["x"]
    assert same_array(a, b)


def test_nested_structure_round_trips(tmp_path):
    obj = {
        "model": {"fc": {"w": sample("float32", (3, 4)), "b": sample("float32", (4,))}},
        "layers": [{"w": sample("float64", (2,))}, (sample("int64", (2, 2)), None)],
        "epoch": 7, "big": 2**100, "neg": -3,
        "lr": 0.1, "nan": math.nan, "inf": -math.inf, "negzero": -0.0,
        "flags": [True, False], "name": "run-1", "empty": {}, "nothing": [], "t": (),
    }
    path = tmp_path / "c.ember"
    save(obj, str(path))
    got = load(path)
    assert list(got) == list(obj)  # key order kept
    assert same_array(got["model"]["fc"]["w"], obj["model"]["fc"]["w"])
    assert isinstance(got["layers"][1], tuple) and got["layers"][1][1] is None
    assert same_array(got["layers"][1][0], obj["layers"][1][0])
    assert got["epoch"] == 7 and type(got["epoch"]) is int
    assert got["big"] == 2**100 and got["neg"] == -3
    assert type(got["lr"]) is float and got["lr"] == 0.1
    assert math.isnan(got["nan"]) and got["inf"] == -math.inf
    assert math.copysign(1, got["negzero"]) == -1
    assert got["flags"] == [True, False] and all(type(f) is bool for f in got["flags"])
    assert got["name"] == "run-1" and got["empty"] == {} and got["nothing"] == [] and got["t"] == ()


def test_root_may_be_an_array_or_a_scalar(tmp_path):
    a = sample("float32", (2, 2))
    save(a, tmp_path / "a")
    assert same_array(load(tmp_path / "a"), a)
    save(3.5, tmp_path / "s")
    assert load(tmp_path / "s") == 3.5


def test_numpy_scalars_become_python_scalars(tmp_path):
    save({"i": np.int64(4), "f": np.float32(0.5), "b": np.bool_(True)}, tmp_path / "c")
    got = load(tmp_path / "c")
    assert got == {"i": 4, "f": 0.5, "b": True}
    assert type(got["i"]) is int and type(got["b"]) is bool


def test_loaded_arrays_are_writable_and_independent(tmp_path):
    save({"a": np.arange(4.0), "b": np.arange(4.0)}, tmp_path / "c")
    got = load(tmp_path / "c")
    got["a"][0] = 99.0
    assert got["b"][0] == 0.0 and got["a"].flags.writeable and got["a"].flags.owndata


def test_non_contiguous_and_big_endian_arrays(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4).T
    be = np.arange(5, dtype=">i4")
    save({"a": a, "be": be}, tmp_path / "c")
    got = load(tmp_path / "c")
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["be"], be)
    assert got["be"].dtype == np.dtype("int32")


def test_unicode_keys(tmp_path):
    obj = {"权重": np.ones(2), "é/ü": {"🔥": 1, "ключ": np.zeros(1, np.int8)}}
    save(obj, tmp_path / "ü.ember")
    got = load(tmp_path / "ü.ember")
    assert list(got) == ["权重", "é/ü"] and got["é/ü"]["🔥"] == 1
    assert same_array(got["权重"], obj["权重"])
    assert same_array(got["é/ü"]["ключ"], obj["é/ü"]["ключ"])


def test_keys_with_dots_do_not_collide(tmp_path):
    # "a.b" and a -> b give the same dotted name; both must survive.
    x, y, z = np.array([1.0]), np.array([2.0]), np.array([3.0])
    obj = {"a.b": x, "a": {"b": y}, "a.b#1": z, "__metadata__": np.array([4])}
    save(obj, tmp_path / "c")
    got = load(tmp_path / "c")
    assert got["a.b"][0] == 1.0 and got["a"]["b"][0] == 2.0 and got["a.b#1"][0] == 3.0
    assert got["__metadata__"][0] == 4
    assert len(load_safetensors(tmp_path / "c")) == 4


def test_tensor_names_are_dotted_paths(tmp_path):
    save({"model": {"fc": {"weight": np.ones(2)}}, "layers": [np.zeros(1)]}, tmp_path / "c")
    assert set(load_safetensors(tmp_path / "c")) == {"model.fc.weight", "layers.0"}


def test_shared_arrays_stay_shared(tmp_path):
    a = np.arange(3.0)
    save({"x": a, "y": [a]}, tmp_path / "c")
    got = load(tmp_path / "c")
    assert got["x"] is got["y"][0]
    assert len(load_safetensors(tmp_path / "c")) == 1


# ---------------------------------------------------------- Tensor vs ndarray

class FakeTensor:
    def __init__(self, data):
        self.data = np.asarray(data)


@pytest.fixture
def fake_tensor_module(monkeypatch):
    mod = types.ModuleType("ember.tensor")
    mod.Tensor = FakeTensor
    monkeypatch.setitem(sys.modules, "ember.tensor", mod)
    return mod


def test_tensor_and_ndarray_kinds_are_preserved(tmp_path, fake_tensor_module):
    t = FakeTensor(np.arange(3, dtype=np.float32))
    a = np.arange(3, dtype=np.float32)
    save({"t": t, "a": a, "both": [t, a]}, tmp_path / "c")
    got = load(tmp_path / "c")
    assert type(got["t"]) is FakeTensor and type(got["a"]) is np.ndarray
    assert same_array(got["t"].data, t.data) and same_array(got["a"], a)
    assert got["both"][0] is got["t"] and got["both"][1] is got["a"]


def test_real_ember_tensor_round_trips(tmp_path):
    tensor = pytest.importorskip("ember.tensor", reason="ember.tensor not written yet")
    t = tensor.Tensor(np.arange(4.0).reshape(2, 2))
    save({"w": t, "a": np.ones(2)}, tmp_path / "c")
    got = load(tmp_path / "c")
    assert isinstance(got["w"], tensor.Tensor) and isinstance(got["a"], np.ndarray)
    np.testing.assert_array_equal(got["w"].data, t.data)


def test_requires_grad_is_restored(tmp_path):
    tensor = pytest.importorskip("ember.tensor", reason="ember.tensor not written yet")
    p = tensor.Tensor(np.ones(3), requires_grad=True)
    c = tensor.Tensor(np.ones(3))
    save({"p": p, "c": c}, tmp_path / "c")
    got = load(tmp_path / "c")
    assert got["p"].requires_grad is True and got["c"].requires_grad is False
    # An integer tensor cannot require grad: a file claiming so is rejected cleanly.
    head = {"t": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]},
            "__metadata__": {"ember.version": "1",
                             "ember.tree": json.dumps({"$tensor": "t", "requires_grad": True})}}
    assert_bad(raw_file(tmp_path / "bad", head, b"\x00" * 4), "'t'")


# ---------------------------------------------------------- what save refuses

@pytest.mark.parametrize("obj, exc", [
    ({1: 2}, TypeError),
    ({"c": np.zeros(2, np.complex64)}, TypeError),
    ({"o": np.array([object()])}, TypeError),
    ({"s": {1, 2}}, TypeError),
    ({"f": lambda: 0}, TypeError),
])
def test_save_rejects_unsupported_objects_without_touching_disk(tmp_path, obj, exc):
    with pytest.raises(exc):
        save(obj, tmp_path / "c")
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_absurd_nesting(tmp_path):
    obj = 1
    for _ in range(ckpt.MAX_DEPTH + 5):
        obj = [obj]
    with pytest.raises(ValueError, match="deeper"):
        save(obj, tmp_path / "c")


def test_save_rejects_cycles(tmp_path):
    d = {}
    d["self"] = d
    with pytest.raises(ValueError, match="cycle"):
        save(d, tmp_path / "c")


# ---------------------------------------------------------------- atomicity

def test_crash_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "c.ember"
    save({"w": np.arange(1000.0)}, path)
    before = path.read_bytes()

    calls = []

    def dying_write(f, arr):
        calls.append(1)
        f.write(arr.tobytes()[:100])  # half a tensor, then the "crash"
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "_write_tensor_bytes", dying_write)
    with pytest.raises(OSError, match="disk full"):
        save({"w": np.zeros(5000)}, path)
    assert calls  # the failure really happened inside the write
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.ember"]
    np.testing.assert_array_equal(load(path)["w"], np.arange(1000.0))


def test_failed_replace_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "c.ember"
    save({"v": 1}, path)
    before = path.read_bytes()

    def no_replace(src, dst):
        assert Path(src).exists() and Path(src).parent == path.parent  # temp in same dir
        raise OSError("rename failed")

    monkeypatch.setattr(ckpt.os, "replace", no_replace)
    with pytest.raises(OSError, match="rename failed"):
        save({"v": 2}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.ember"]


def test_save_fsyncs_before_replacing(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(ckpt.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(ckpt.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    save({"v": np.ones(3)}, tmp_path / "c")
    assert events.index("fsync") < events.index("replace")


# -------------------------------------------------------- hostile / broken files

def assert_bad(path, *words):
    with pytest.raises(CheckpointError) as info:
        load(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError) and eio.CheckpointError is CheckpointError


def test_every_truncation_is_detected(tmp_path):
    good = tmp_path / "good"
    save({"a": np.arange(5, dtype=np.int32), "b": "x", "c": np.ones((2, 2))}, good)
    data = good.read_bytes()
    cut = tmp_path / "cut"
    for n in range(len(data)):
        cut.write_bytes(data[:n])
        with pytest.raises(CheckpointError, match=str(cut)):
            load(cut)


def test_empty_file(tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    assert_bad(p, "too short")


@pytest.mark.parametrize("blob", [
    b"hello, this is not a checkpoint at all\n" * 3,
    bytes(range(256)) * 4,
    b"\x00" * 64,
])
def test_garbage_files(tmp_path, blob):
    p = tmp_path / "garbage"
    p.write_bytes(blob)
    assert_bad(p)


def test_random_garbage_never_escapes_as_other_errors(tmp_path):
    rng = np.random.default_rng(1)
    p = tmp_path / "g"
    for _ in range(200):
        p.write_bytes(rng.integers(0, 256, rng.integers(0, 300), dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError):
            load(p)


def test_header_byte_corruption_is_error_or_clean_load(tmp_path):
    good = tmp_path / "good"
    save({"a": np.arange(3, dtype=np.int16), "k": [1, "s"]}, good)
    data = bytearray(good.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    p = tmp_path / "bad"
    rng = np.random.default_rng(2)
    for pos in range(8 + n):
        bad = bytearray(data)
        bad[pos] = (bad[pos] + 1 + int(rng.integers(0, 255))) % 256
        p.write_bytes(bytes(bad))
        try:
            load(p)  # some edits (e.g. inside a string) still make a valid file
        except CheckpointError as e:
            assert str(p) in str(e)


def test_header_claiming_huge_length(tmp_path):
    p = tmp_path / "huge"
    p.write_bytes(struct.pack("<Q", 2**63 + 5) + b"{}      ")
    assert_bad(p, "header length")
    p.write_bytes(struct.pack("<Q", 1000) + b"{}      ")
    assert_bad(p, "header length", "truncated")


def test_overlapping_offsets(tmp_path):
    p = raw_file(tmp_path / "ov", {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }, b"\x00" * 12)
    assert_bad(p, "overlapping", "'a'", "'b'")


def test_offsets_out_of_bounds(tmp_path):
    p = raw_file(tmp_path / "oob", {"a": {"dtype": "F64", "shape": [4], "data_offsets": [0, 32]}},
                 b"\x00" * 16)
    assert_bad(p, "'a'", "past the end")


def test_shape_and_byte_length_mismatch(tmp_path):
    p = raw_file(tmp_path / "m", {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
                 b"\x00" * 8)
    assert_bad(p, "needs 12 bytes")


def test_gap_and_trailing_bytes(tmp_path):
    p = raw_file(tmp_path / "gap", {"a": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}},
                 b"\x00" * 4)
    assert_bad(p, "gap")
    p = raw_file(tmp_path / "trail", {"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}},
                 b"\x00" * 4)
    assert_bad(p, "after the last tensor")


@pytest.mark.parametrize("entry, words", [
    ({"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}, ["dtype 'F8'"]),
    ({"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}, ["dtype 'BF16'"]),
    ({"dtype": "U8", "shape": [-1], "data_offsets": [0, 1]}, ["shape"]),
    ({"dtype": "U8", "shape": [True], "data_offsets": [0, 1]}, ["shape"]),
    ({"dtype": "U8", "shape": "1", "data_offsets": [0, 1]}, ["shape"]),
    ({"dtype": "U8", "shape": [1], "data_offsets": [1, 0]}, ["data_offsets"]),
    ({"dtype": "U8", "shape": [1], "data_offsets": [0]}, ["data_offsets"]),
    ({"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "x": 1}, ["exactly"]),
    ("nope", ["exactly"]),
])
def test_malformed_entries(tmp_path, entry, words):
    p = raw_file(tmp_path / "e", {"t": entry}, b"\x00")
    assert_bad(p, *words)


def test_bool_bytes_must_be_zero_or_one(tmp_path):
    p = raw_file(tmp_path / "b", {"t": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}},
                 b"\x01\x07")
    assert_bad(p, "BOOL")


@pytest.mark.parametrize("head", [b"not json", b"[1, 2]", b"\xff\xfe{}", b'{"a": 1, "a": 2}'])
def test_header_not_a_json_object(tmp_path, head):
    p = tmp_path / "h"
    p.write_bytes(struct.pack("<Q", len(head)) + head)
    assert_bad(p, "header")


def test_bad_metadata_and_tree(tmp_path):
    p = raw_file(tmp_path / "m", {"__metadata__": {"ember.tree": 5}})
    assert_bad(p, "__metadata__")
    tree = lambda t: {"__metadata__": {"ember.tree": json.dumps(t), "ember.version": "1"}}
    assert_bad(raw_file(tmp_path / "t1", tree({"$ndarray": "missing"})), "missing")
    assert_bad(raw_file(tmp_path / "t2", tree({"$eval": "os.system('x')"})), "$eval")
    assert_bad(raw_file(tmp_path / "t3", tree({"$dict": [[1, 2]]})), "$dict")
    p = tmp_path / "t4"
    raw_file(p, {"__metadata__": {"ember.tree": "{" * 100000, "ember.version": "1"}})
    assert_bad(p, "ember.tree")
    for levels, word in [(ckpt.MAX_DEPTH + 50, "deep"), (5000, "ember.tree")]:
        deep = "1"
        for _ in range(levels):
            deep = '{"$list": [' + deep + "]}"
        meta = {"ember.tree": deep, "ember.version": "1"}
        assert_bad(raw_file(tmp_path / "t5", {"__metadata__": meta}), word)
    assert_bad(raw_file(tmp_path / "t6", {"__metadata__": {"ember.tree": "1", "ember.version": "99"}}),
               "version")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickle_file_is_refused_and_never_executed(tmp_path):
    # Prove the payload is live: unpickling it really creates its marker.
    probe = tmp_path / "probe_marker"
    pickle.loads(pickle.dumps(_Payload(probe)))
    assert probe.exists()

    marker = tmp_path / "pwned_marker"
    p = tmp_path / "evil.pt"
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        p.write_bytes(pickle.dumps({"w": _Payload(marker)}, protocol=proto))
        with pytest.raises(CheckpointError) as info:
            load(p)
        assert str(p) in str(info.value)
        if proto >= 2:
            assert "pickle" in str(info.value)
        assert not marker.exists()


def test_torch_save_file_is_refused(tmp_path):
    torch = pytest.importorskip("torch", reason="torch not installed (reference only)")
    p = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, p)
    assert_bad(p, "PyTorch")


# ------------------------------------------------------------ interop & misc

def test_map_location(tmp_path):
    save({"a": np.ones(1)}, tmp_path / "c")
    assert load(tmp_path / "c", map_location="cpu")["a"][0] == 1
    assert load(tmp_path / "c", map_location=None)["a"][0] == 1
    # changed with devices (issue 10): a CUDA map_location is honoured when CuPy and a GPU are
    # there; without them the error says so (it used to say "ember only runs on the CPU")
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="CuPy"):
            load(tmp_path / "c", map_location="cuda:0")


def test_header_is_standard_safetensors(tmp_path):
    save({"w": np.ones((2, 3), np.float32), "n": 1}, tmp_path / "c")
    data = (tmp_path / "c").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    header = json.loads(data[8:8 + n])
    assert header["w"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert json.loads(header["__metadata__"]["ember.tree"]) == \
        {"$dict": [["w", {"$ndarray": "w"}], ["n", 1]]}
    assert np.frombuffer(data[8 + n:], "<f4").tolist() == [1.0] * 6


def test_files_are_readable_by_the_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="safetensors not installed (reference only)")
    arrays = {d: sample(d, (2, 3)) for d in ALL_DTYPES}
    arrays["scalar"] = np.array(2.5)
    arrays["empty"] = np.zeros((0, 4), np.int8)
    save({"nested": arrays, "meta": {"epoch": 3}}, tmp_path / "c")
    theirs = st.load_file(str(tmp_path / "c"))
    assert set(theirs) == {f"nested.{k}" for k in arrays}
    for k, a in arrays.items():
        assert same_array(np.asarray(theirs[f"nested.{k}"]), a)


def test_load_safetensors_reads_files_from_the_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="safetensors not installed (reference only)")
    arrays = {"a.weight": sample("float16", (4, 2)), "b": sample("int64", (3,)),
              "c": np.array(True), "d": np.zeros((0,), np.uint8)}
    st.save_file(arrays, str(tmp_path / "m.safetensors"), metadata={"who": "them"})
    for got in (load_safetensors(tmp_path / "m.safetensors"), load(tmp_path / "m.safetensors")):
        assert set(got) == set(arrays)
        for k in arrays:
            assert same_array(got[k], arrays[k])


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope")


def test_save_into_a_missing_directory_names_it(tmp_path):
    import ember
    with pytest.raises(FileNotFoundError, match="directory .*nodir does not exist"):
        ember.save({"a": np.zeros(2)}, tmp_path / "nodir" / "x.safetensors")
