import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from ember.io import SummaryWriter
from ember.io import _protobuf as pb
from ember.io._crc32c import crc32c, masked_crc32c


# ------------------------------------------------------------------
# An independent reader: bit-by-bit CRC (not the writer's table) and a
# generic protobuf decoder, so writer bugs cannot cancel out here.

def slow_crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 * (crc & 1))
    return crc ^ 0xFFFFFFFF


def slow_mask(data):
    c = slow_crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) % 2**32


def read_records(path):
    data = Path(path).read_bytes()
    pos, out = 0, []
    while pos < len(data):
        head = data[pos:pos + 8]
        (n,) = struct.unpack("<Q", head)
        (hcrc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert hcrc == slow_mask(head), "length CRC mismatch"
        body = data[pos + 12:pos + 12 + n]
        (bcrc,) = struct.unpack("<I", data[pos + 12 + n:pos + 16 + n])
        assert len(body) == n and bcrc == slow_mask(body), "data CRC mismatch"
        out.append(body)
        pos += 16 + n
    return out


def decode(buf):
    """Protobuf bytes -> {field: [raw values]} (varint int, 8/4-byte bytes, or bytes)."""
    fields, pos = {}, 0

    def varint():
        nonlocal pos
        shift = val = 0
        while True:
            b = buf[pos]
            pos += 1
            val |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return val

    while pos < len(buf):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            val = varint()
        elif wire == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        elif wire == 2:
            n = varint()
            val, pos = buf[pos:pos + n], pos + n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.setdefault(field, []).append(val)
    return fields


def f64(b):
    return struct.unpack("<d", b)[0]


def read_events(path):
    """Decode into dicts: wall_time, step, file_version or values=[(tag, fields)]."""
    events = []
    for body in read_records(path):
        e = decode(body)
        ev = {"wall_time": f64(e[1][0]), "step": e.get(2, [0])[0]}
        if 3 in e:
            ev["file_version"] = e[3][0].decode()
        if 5 in e:
            ev["values"] = [(decode(v)[1][0].decode(), decode(v)) for v in decode(e[5][0])[1]]
        events.append(ev)
    return events


def event_files(d):
    return sorted(Path(d).glob("events.out.tfevents.*"))


def only_values(log_dir):
    (path,) = event_files(log_dir)
    return [(ev["step"], tag, fields) for ev in read_events(path) for tag, fields in ev.get("values", [])]


# ------------------------------------------------------------------ pieces

def test_crc32c_known_values():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 test vector
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283
    data = bytes(range(256)) * 3
    assert crc32c(data) == slow_crc32c(data)
    assert masked_crc32c(data) == slow_mask(data)


def test_varint_encoding():
    assert pb.varint(0) == b"\x00"
    assert pb.varint(1) == b"\x01"
    assert pb.varint(300) == b"\xac\x02"
    assert pb.varint(-1) == b"\xff" * 9 + b"\x01"
    assert pb.uint(2, 150) == b"\x10\x96\x01"
    assert pb.string(2, "testing") == b"\x12\x07testing"


# ------------------------------------------------------------------ writer

def test_file_starts_with_version_event(tmp_path):
    with SummaryWriter(tmp_path) as w:
        pass
    (path,) = event_files(tmp_path)
    assert path == Path(w.path)
    (ev,) = read_events(path)
    assert ev["file_version"] == "brain.Event:2"
    assert abs(ev["wall_time"] - __import__("time").time()) < 60


def test_scalars_round_trip(tmp_path):
    with SummaryWriter(tmp_path / "run") as w:
        for step in range(5):
            w.add_scalar("loss/train", 1.0 / (step + 1), step)
        w.add_scalar("lr", np.float32(0.25), 10)
        w.add_scalar("neg", -2.5, -3)
        w.add_scalar("nan", math.nan, 11)
    vals = only_values(tmp_path / "run")
    got = [(s, t, struct.unpack("<f", f[2][0])[0]) for s, t, f in vals]
    expect = [(s, "loss/train", np.float32(1.0 / (s + 1))) for s in range(5)]
    assert got[:5] == expect
    assert got[5] == (10, "lr", 0.25)
    assert got[6][0] == 2**64 - 3 and got[6][1:] == ("neg", -2.5)  # int64 two's complement
    assert math.isnan(got[7][2])


def test_scalar_accepts_tensor_like(tmp_path):
    class T:
        def __init__(self, a):
            self.data = np.asarray(a)

    with SummaryWriter(tmp_path) as w:
        w.add_scalar("t", T(np.array([3.0])), 1)
        with pytest.raises(ValueError, match="single number"):
            w.add_scalar("bad", np.ones(2), 1)
    ((step, tag, f),) = only_values(tmp_path)
    assert struct.unpack("<f", f[2][0])[0] == 3.0


def test_add_scalars_writes_one_run_per_curve(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalars("loss", {"train": 1.0, "val": 2.0}, 3)
    for sub, value in [("loss_train", 1.0), ("loss_val", 2.0)]:
        ((step, tag, f),) = only_values(tmp_path / sub)
        assert (step, tag, struct.unpack("<f", f[2][0])[0]) == (3, "loss", value)


def test_histogram_round_trip(tmp_path):
    values = np.random.default_rng(0).standard_normal(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", np.append(values, [np.nan, np.inf]), 7, bins=20)
        w.add_histogram("empty", np.array([np.nan]), 8)
    (step, tag, f), (_, tag2, f2) = only_values(tmp_path)
    assert (step, tag) == (7, "w")
    h = decode(f[5][0])
    assert [f64(h[i][0]) for i in (1, 2, 3)] == [values.min(), values.max(), 1000]
    assert f64(h[4][0]) == pytest.approx(values.sum())
    assert f64(h[5][0]) == pytest.approx((values ** 2).sum())
    limits = np.frombuffer(h[6][0], "<f8")
    counts = np.frombuffer(h[7][0], "<f8")
    ref_counts, ref_edges = np.histogram(values, bins=20)
    np.testing.assert_array_equal(limits, ref_edges)
    np.testing.assert_array_equal(counts, np.concatenate([[0], ref_counts]))
    assert tag2 == "empty" and f64(decode(f2[5][0])[3][0]) == 0


def read_png(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + n
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    c = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * c)
    assert (rows[:, 0] == 0).all() and depth == 8
    return rows[:, 1:].reshape(h, w, c)


def test_image_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 5, 7), dtype=np.uint8)  # CHW
    gray = np.linspace(0, 1, 12).reshape(1, 3, 4)
    with SummaryWriter(tmp_path) as w:
        w.add_image("rgb", rgb, 1)
        w.add_image("gray", gray, 2)
        w.add_image("hwc", rgb.transpose(1, 2, 0), 3, dataformats="HWC")
        w.add_image("rgba_hw", np.full((2, 2), 2.0), 4, dataformats="HW")
        with pytest.raises(ValueError):
            w.add_image("bad", np.zeros((2, 5, 5)), 5)
    vals = only_values(tmp_path)
    imgs = {tag: (step, decode(f[4][0])) for step, tag, f in vals}
    step, im = imgs["rgb"]
    assert step == 1 and (im[1][0], im[2][0], im[3][0]) == (5, 7, 3)
    np.testing.assert_array_equal(read_png(im[4][0]), rgb.transpose(1, 2, 0))
    np.testing.assert_array_equal(read_png(imgs["hwc"][1][4][0]), rgb.transpose(1, 2, 0))
    g = read_png(imgs["gray"][1][4][0])
    np.testing.assert_array_equal(g[:, :, 0], np.round(np.linspace(0, 255, 12)).reshape(3, 4))
    assert (read_png(imgs["rgba_hw"][1][4][0]) == 255).all()  # clipped to 1.0
    assert imgs["gray"][1][3][0] == 1 and imgs["rgba_hw"][1][3][0] == 1  # colorspace


def test_text_round_trip(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "héllo **world**", 4)
    ((step, tag, f),) = only_values(tmp_path)
    assert (step, tag) == (4, "notes")
    plugin = decode(decode(f[9][0])[1][0])
    assert plugin[1][0] == b"text"
    tensor = decode(f[8][0])
    assert tensor[1][0] == 7 and tensor[8][0].decode() == "héllo **world**"


def test_hparams_structure(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "bs": 32, "opt": "adam", "nesterov": True}, {"acc": 0.9})
    vals = only_values(tmp_path)
    tags = [t for _, t, _ in vals]
    assert tags == ["_hparams_/experiment", "_hparams_/session_start_info", "acc",
                    "_hparams_/session_end_info"]
    content = {t: decode(decode(decode(f[9][0])[1][0])[2][0]) for _, t, f in vals if t.startswith("_")}
    start = decode(content["_hparams_/session_start_info"][3][0])
    hp = {decode(e)[1][0].decode(): decode(decode(e)[2][0]) for e in start[1]}
    assert f64(hp["lr"][2][0]) == 0.1 and f64(hp["bs"][2][0]) == 32
    assert hp["opt"][3][0] == b"adam" and hp["nesterov"][4][0] == 1
    exp = decode(content["_hparams_/experiment"][2][0])
    assert [decode(i)[1][0] for i in exp[4]] == [b"lr", b"bs", b"opt", b"nesterov"]
    assert decode(decode(exp[5][0])[1][0])[2][0] == b"acc"


def test_flush_makes_data_visible_and_close_is_idempotent(tmp_path):
    w = SummaryWriter(tmp_path, flush_secs=3600)
    w.add_scalar("a", 1.0, 0)
    before = len(read_records(w.path))
    w.flush()
    assert len(read_records(w.path)) == 2 >= before
    w.close()
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.add_scalar("a", 1.0, 1)


def test_two_writers_use_distinct_files(tmp_path):
    with SummaryWriter(tmp_path) as a, SummaryWriter(tmp_path) as b:
        a.add_scalar("x", 1, 0)
        b.add_scalar("x", 2, 0)
    assert len(event_files(tmp_path)) == 2


# ------------------------------------------- reference: the real TensorBoard

def test_tensorboard_event_accumulator_reads_our_files(tmp_path):
    ea_mod = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard not installed: optional reference check skipped "
               "(pip install tensorboard to run it)")
    rgb = np.random.default_rng(0).integers(0, 256, (3, 4, 6), dtype=np.uint8)
    with SummaryWriter(tmp_path) as w:
        for s in range(3):
            w.add_scalar("loss", 0.5 * s, s)
        w.add_histogram("w", np.arange(100.0), 2, bins=10)
        w.add_image("img", rgb, 5)
        w.add_text("note", "hello", 6)
        w.add_hparams({"lr": 0.01, "opt": "sgd"}, {"final/acc": 0.75})
    acc = ea_mod.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 0.0), (1, 0.5), (2, 1.0)]
    (h,) = acc.Histograms("w")
    hv = h.histogram_value
    assert (h.step, hv.min, hv.max, hv.num, hv.sum) == (2, 0.0, 99.0, 100, 4950.0)
    assert sum(hv.bucket) == 100 and len(hv.bucket_limit) == len(hv.bucket) == 11
    (im,) = acc.Images("img")
    assert (im.step, im.width, im.height) == (5, 6, 4)
    from PIL import Image  # comes with tensorboard
    import io
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(im.encoded_image_string))),
                                  rgb.transpose(1, 2, 0))
    (t,) = acc.Tensors("note")
    assert t.step == 6 and t.tensor_proto.string_val == [b"hello"]
    assert acc.Scalars("final/acc")[0].value == 0.75

    from tensorboard.plugins.hparams import plugin_data_pb2
    contents = acc.PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(contents["_hparams_/session_start_info"])
    assert data.session_start_info.hparams["lr"].number_value == 0.01
    assert data.session_start_info.hparams["opt"].string_value == "sgd"
    exp = plugin_data_pb2.HParamsPluginData.FromString(contents["_hparams_/experiment"]).experiment
    assert [i.name for i in exp.hparam_infos] == ["lr", "opt"]
    assert exp.metric_infos[0].name.tag == "final/acc"
    end = plugin_data_pb2.HParamsPluginData.FromString(contents["_hparams_/session_end_info"])
    assert end.session_end_info.status == 1
