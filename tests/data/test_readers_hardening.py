"""Hostile and malformed inputs to the dataset readers: bounded work, documented errors only."""
import gzip
import os
import pickle
import shutil
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from ember.data import (CIFAR10, ChecksumError, DataFormatError, DatasetNotFoundError, ImageFolder,
                        load_fashion_mnist, load_mnist, read_cifar_binary, read_cifar_pickle,
                        read_idx, safe_load, safe_loads, write_idx)

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBER_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def _peak_bytes(fn, *args):
    """Peak traced allocation (NumPy reports its buffers to tracemalloc) while fn runs."""
    tracemalloc.start()
    try:
        try:
            fn(*args)
        except DataFormatError:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _finishes(fn, unblock, seconds=10):
    """Run fn in a thread; if it is still blocked after ``seconds``, call unblock() so the
    thread can end, and report failure. Returns (finished_in_time, exception or None)."""
    out = {}

    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            out["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    in_time = not t.is_alive()
    if not in_time:
        unblock()
        t.join(seconds)
    return in_time, out.get("exc")


def _unblock_fifo(path):
    def unblock():
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    return unblock


# ---------------------------------------------------------------- safe_loads
def _memo_bomb(levels):
    """L0 = []; L(i+1) = [Li, Li] -- 9 bytes a level, 2**levels leaves as a tree."""
    b = b"\x80\x02]q\x00"
    for i in range(levels):
        b += b"0](h" + bytes([i]) + b"h" + bytes([i]) + b"eq" + bytes([i + 1])
    return b + b"."


def test_memo_bomb_is_refused_with_bounded_memory():
    bomb = _memo_bomb(40)
    assert len(bomb) < 420
    with pytest.raises(DataFormatError, match="expands to more than .* bomb"):
        safe_loads(bomb, source="bomb.pkl")
    assert _peak_bytes(safe_loads, bomb) < 4 << 20


def test_shared_references_stay_shared_and_small_ones_load():
    inner = [1, 2, 3]
    arr = np.arange(4, dtype=np.uint8)
    out = safe_loads(pickle.dumps({"a": inner, "b": inner, "x": arr, "y": (arr, arr)}, protocol=2))
    assert out["a"] is out["b"] and out["a"] == [1, 2, 3]
    assert out["y"][0] is out["x"] and out["x"].tolist() == [0, 1, 2, 3]
    assert safe_loads(_memo_bomb(8))[0][0][0][0][0][0][0][0] == []  # 256 leaves: fine


MALFORMED = {
    # each of these leaked a bare Python error before
    "memo key never stored (KeyError)": b"\x80\x02h\x05.",
    "append to a dict (AttributeError)": b"\x80\x02}K\x01a.",
    "pop from an empty stack (IndexError)": b"\x80\x02a.",
    "unhashable dict key (TypeError)": b"\x80\x02}]K\x01s.",
    "bad utf-8 (UnicodeDecodeError)": b"\x80\x02\x8c\x01\xff.",
    "self-referencing list": b"\x80\x02]q\x00h\x00a.",
    "nested tuple as dict key": b"\x80\x02})\x85\x85K\x01s.",
    "dtype of a tuple": b"\x80\x02cnumpy\ndtype\n)\x85\x85R.",
    "REDUCE args not a tuple": b"\x80\x02cnumpy\ndtype\nK\x01R.",
    "ndarray BUILD state not a tuple": b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n)RK\x01b.",
    "never-built ndarray": b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n)R.",
    "deep nesting": b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b".",
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_pickles_raise_only_data_format_error(data):
    with pytest.raises(DataFormatError, match="bad.pkl"):
        safe_loads(data, source="bad.pkl")


def test_empty_array_round_trips():
    out = safe_loads(pickle.dumps({"e": np.zeros((0, 4), np.uint8)}, protocol=2))
    assert out["e"].shape == (0, 4) and out["e"].dtype == np.uint8


def test_array_shape_overflow_is_refused():
    # shape (2**32, 2**32) of uint8 wrapped to 0 in int64 arithmetic and "matched" b""
    arr = np.zeros((0, 4), dtype=np.uint8)
    data = pickle.dumps(arr, protocol=2).replace(b"K\x00K\x04\x86", b"\x8a\x05\x00\x00\x00\x00\x01"
                                                  b"\x8a\x05\x00\x00\x00\x00\x01\x86")
    with pytest.raises(DataFormatError, match="array data has 0 bytes"):
        safe_loads(data)


def test_cifar_pickle_labels_are_checked(tmp_path):
    data = np.zeros((2, 3072), np.uint8)
    for labels, msg in (([1, 2 ** 70], "label 1180591620717411303424 is not a class index"),
                        ([1, -1], "label -1 is not a class index"),
                        (["a", "b"], "must be a list"), ({1: 2}, "must be a list")):
        (tmp_path / "b").write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))
        with pytest.raises(DataFormatError, match=msg):
            read_cifar_pickle(tmp_path / "b", "labels")
    (tmp_path / "b").write_bytes(pickle.dumps({1: 2, "x": 3}, protocol=2))  # unsortable keys
    with pytest.raises(DataFormatError, match="missing 'data'"):
        read_cifar_pickle(tmp_path / "b", "labels")


# ---------------------------------------------------------------- IDX
def test_idx_header_claiming_more_than_gzip_can_hold(tmp_path):
    path = tmp_path / "claim.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + np.array([60000, 28, 28], ">u4").tobytes()))
    with pytest.raises(DataFormatError, match=r"claim.gz: .*\(47040000 data bytes\), more than a \d+-byte gzip"):
        read_idx(path)
    assert _peak_bytes(read_idx, path) < 1 << 20


def test_idx_gzip_bomb_after_a_small_header_is_not_decompressed(tmp_path):
    path = tmp_path / "bomb.gz"
    zeros = gzip.compress(bytes(1 << 20), compresslevel=9)  # 1 MiB -> ~1 KiB
    head = bytes([0, 0, 8, 1]) + (4).to_bytes(4, "big") + bytes(4)
    path.write_bytes(gzip.compress(head) + zeros * 64)  # 64 MiB of trailing zeros
    with pytest.raises(DataFormatError, match="bomb.gz: IDX file has trailing bytes"):
        read_idx(path)
    assert _peak_bytes(read_idx, path) < 8 << 20


def test_idx_integer_overflow_header(tmp_path):
    # 65536**4 == 2**64 wrapped to 0 in int64, so 0 data bytes "matched"
    path = tmp_path / "wrap"
    path.write_bytes(bytes([0, 0, 8, 4]) + np.full(4, 65536, ">u4").tobytes())
    with pytest.raises(DataFormatError, match="wrap: IDX file truncated"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 8, 3]) + np.array([0, 2 ** 32 - 1, 2 ** 32 - 1], ">u4").tobytes())
    with pytest.raises(DataFormatError, match="not a valid array shape"):
        read_idx(path)


def test_idx_gzip_crc_and_trailing_data(tmp_path):
    good = tmp_path / "g.gz"
    write_idx(good, np.arange(10, dtype=np.uint8))
    raw = bytearray(good.read_bytes())
    raw[-8] ^= 0xFF  # CRC32 of the member
    (tmp_path / "crc.gz").write_bytes(bytes(raw))
    with pytest.raises(DataFormatError, match="crc.gz: truncated or corrupt gzip"):
        read_idx(tmp_path / "crc.gz")
    np.testing.assert_array_equal(read_idx(good), np.arange(10))


@pytest.mark.parametrize("reader", [read_idx, safe_load, read_cifar_binary],
                         ids=["read_idx", "safe_load", "read_cifar_binary"])
def test_directory_and_fifo_refused_at_once(tmp_path, reader):
    with pytest.raises(DataFormatError, match="is a directory"):
        reader(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    in_time, exc = _finishes(lambda: reader(fifo), _unblock_fifo(fifo))
    assert in_time, f"{reader.__name__} blocked on a FIFO"
    assert isinstance(exc, DataFormatError) and "not a regular file" in str(exc)


# ---------------------------------------------------------------- ImageFolder
def test_image_folder_wraps_pillow_errors(tmp_path):
    pytest.importorskip("PIL", reason="Pillow not installed (pip install Pillow)")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(30))
    (tmp_path / "a" / "cut.npy").write_bytes(b"\x93NUMPY\x01\x00")
    ds = ImageFolder(tmp_path)
    with pytest.raises(DataFormatError, match=r"bad.png: cannot read this image"):
        ds[0]
    with pytest.raises(DataFormatError, match=r"cut.npy: not a plain .npy"):
        ds[1]


# ---------------------------------------------------------------- root= and checksums
def _write_small_mnist(directory):
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", 6), ("t10k", 3)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte", np.zeros((n, 28, 28), np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8))


def test_mistyped_root_fails_naming_it_instead_of_using_another_copy(isolated_home, monkeypatch):
    _write_small_mnist(isolated_home / "data" / "mnist")
    monkeypatch.setenv("EMBER_DATA", str(isolated_home / "data"))
    assert len(load_mnist()[0][0]) == 6  # found through $EMBER_DATA
    with pytest.raises(DatasetNotFoundError, match=r"root='.*/dta'.*does not exist"):
        load_mnist(root=isolated_home / "dta")
    (isolated_home / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="only root= was searched"):
        load_mnist(root=isolated_home / "empty")
    with pytest.raises(DatasetNotFoundError, match=r"root='.*/dta'.*does not exist"):
        CIFAR10(root=isolated_home / "dta")
    monkeypatch.setenv("EMBER_DATA", str(isolated_home / "dtaa"))
    with pytest.raises(DatasetNotFoundError, match=r"\$EMBER_DATA='.*/dtaa'.*does not exist"):
        load_mnist()


needs_debian = pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="Debian package "
                                  "dataset-fashion-mnist not installed (sudo apt install dataset-fashion-mnist)")


def _fashion_copy(directory, tamper):
    """Debian's files (images as symlinks), with the train labels rewritten by ``tamper``."""
    directory.mkdir(parents=True)
    for f in DEBIAN_FMNIST.iterdir():
        if f.name != "train-labels-idx1-ubyte.gz":
            (directory / f.name).symlink_to(f)
    labels = read_idx(DEBIAN_FMNIST / "train-labels-idx1-ubyte.gz")
    write_idx(directory / "train-labels-idx1-ubyte.gz", tamper(labels.copy()))
    return directory / "train-labels-idx1-ubyte.gz"


@needs_debian
def test_tampered_label_file_is_reported_not_trained_on(isolated_home):
    def flip(y):
        y[123] = (y[123] + 1) % 10
        return y
    path = _fashion_copy(isolated_home / "fm", flip)
    with pytest.raises(ChecksumError, match=r"train-labels-idx1-ubyte.gz: this Fashion-MNIST file "
                                            r".*does not match its published checksum"):
        load_fashion_mnist(root=isolated_home / "fm")
    # an intact re-compressed copy is fine (the content checksum is what is compared)
    path.unlink()
    _fashion_copy(isolated_home / "fm2", lambda y: y)
    (x, y), _ = load_fashion_mnist(root=isolated_home / "fm2")
    assert y.shape == (60000,) and x.shape == (60000, 28, 28)


@needs_debian
def test_checksums_are_cached_and_a_changed_file_is_checked_again(isolated_home, monkeypatch):
    from ember.data.datasets import verify
    d = isolated_home / "fm"
    d.mkdir()
    for f in DEBIAN_FMNIST.glob("t10k-*"):
        shutil.copy(f, d / f.name)
    from ember.data import FashionMNIST
    assert len(FashionMNIST(root=d, train=False)) == 10000
    assert verify.cache_path().is_file()
    calls, real_check = [], verify.check
    monkeypatch.setattr(verify, "check", lambda *a: calls.append(a) or real_check(*a))
    FashionMNIST(root=d, train=False)
    assert calls == []  # cached: no hashing the second time
    labels = d / "t10k-labels-idx1-ubyte.gz"
    y = read_idx(labels)
    y[0] = (y[0] + 1) % 10
    write_idx(labels, y)  # same size, new mtime/ctime: the cache entry no longer applies
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        FashionMNIST(root=d, train=False)
    assert len(calls) == 1


def test_file_level_checksums_apply_to_gzip_files(tmp_path):
    import hashlib
    from ember.data import Resource
    from ember.data.datasets import verify
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"payload"))
    good = Resource("x.gz", (), sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    assert verify.check(path, good, "ignored", True, "Test") is True
    with pytest.raises(ChecksumError, match="x.gz: this Test file .*file SHA-256"):
        verify.check(path, Resource("x.gz", (), sha256="0" * 64), "ignored", True, "Test")
    # an uncompressed file has no applicable archive checksum: nothing to compare
    assert verify.check(path, Resource("x.gz", (), sha256="0" * 64), "c", False, "Test") is False
