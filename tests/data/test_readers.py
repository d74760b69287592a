import gzip
import hashlib
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.data import (CIFAR10, CIFAR100, MNIST, ChecksumError, DataFormatError, DataLoader,
                        DatasetNotFoundError, FashionMNIST, ImageFolder, Resource, UnsafePickleError,
                        load_cifar10, load_fashion_mnist, load_image_folder, load_mnist, read_cifar_binary,
                        read_idx, safe_loads, write_idx)
from ember.data.datasets import downloader

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """No $EMBER_DATA and an empty home, so only the paths under test are searched."""
    monkeypatch.delenv("EMBER_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


# ---------------------------------------------------------------- IDX
@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_idx_roundtrip(tmp_path, name):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, arr)
    np.testing.assert_array_equal(read_idx(tmp_path / name), arr)
    ints = np.array([-5, 70000], dtype=np.int32)
    write_idx(tmp_path / "i.idx", ints)
    np.testing.assert_array_equal(read_idx(tmp_path / "i.idx"), ints)


def test_idx_truncated_and_foreign_files(tmp_path):
    raw = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(7)
    (tmp_path / "short").write_bytes(raw)
    with pytest.raises(DataFormatError, match=r"short.*truncated.*\(10,\)"):
        read_idx(tmp_path / "short")
    (tmp_path / "foreign").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(DataFormatError, match="foreign: not an IDX file"):
        read_idx(tmp_path / "foreign")
    good = gzip.compress(bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes(3))
    (tmp_path / "cut.gz").write_bytes(good[:-6])
    with pytest.raises(DataFormatError, match="cut.gz: truncated or corrupt gzip"):
        read_idx(tmp_path / "cut.gz")


def _write_mnist_like(directory, n_train=12, n_test=5):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))


def test_mnist_from_root_and_ember_data(isolated_home, monkeypatch):
    _write_mnist_like(isolated_home / "d" / "mnist")
    (x, y), (xt, yt) = load_mnist(root=isolated_home / "d")
    assert x.shape == (12, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8 and xt.shape == (5, 28, 28)
    monkeypatch.setenv("EMBER_DATA", str(isolated_home / "d"))
    ds = MNIST(train=False)
    assert len(ds) == 5 and ds[3][1] == 3 and ds[3][0].shape == (28, 28)


def test_mnist_count_mismatch_names_files(isolated_home):
    d = isolated_home / "mnist"
    _write_mnist_like(d)
    write_idx(d / "train-labels-idx1-ubyte", np.zeros(11, np.uint8))
    with pytest.raises(DataFormatError, match="has 12 images but .*train-labels-idx1-ubyte has 11 labels"):
        load_mnist(root=d)


def test_missing_mnist_error_explains_how_to_get_it(isolated_home):
    (isolated_home / "nothing").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(root=isolated_home / "nothing")
    msg = str(info.value)
    assert "download=True" in msg and "nothing" in msg and "train-images-idx3-ubyte" in msg


def test_missing_fashion_mentions_apt(isolated_home, monkeypatch):
    from ember.data.datasets import mnist
    monkeypatch.setattr(mnist.FASHION_SPEC, "system_dirs", (str(isolated_home / "no-system"),))
    with pytest.raises(DatasetNotFoundError, match="apt install dataset-fashion-mnist"):
        load_fashion_mnist()


@pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="Debian package dataset-fashion-mnist not installed "
                    "(/usr/share/datasets/fashion-mnist missing): sudo apt install dataset-fashion-mnist")
def test_real_fashion_mnist(isolated_home):
    (x, y), (xt, yt) = load_fashion_mnist()
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.uint8 and set(np.unique(y)) == set(range(10))
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert y[0] == 9 and yt[0] == 9  # first train/test items are ankle boots
    np.testing.assert_array_equal(np.bincount(y), 6000)
    ds = FashionMNIST(train=False, transform=ember.data.transforms.ToTensor())
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.data.shape == (16, 1, 28, 28) and 0 <= xb.data.min() and xb.data.max() <= 1
    assert yb.data.dtype == np.int64 and ds.classes[int(yb.data[0])] == "Ankle boot"


@pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_content_checksums_match_debian_files():
    from ember.data.datasets.mnist import FASHION_SPEC
    for res in FASHION_SPEC.resources.values():
        data = gzip.decompress((DEBIAN_FMNIST / res.filename).read_bytes())
        assert hashlib.sha256(data).hexdigest() == res.content_sha256


# ---------------------------------------------------------------- CIFAR
def _cifar_records(n, label_bytes, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, (n, label_bytes), dtype=np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([labels, images.reshape(n, -1)], axis=1).tobytes()
    return raw, labels, images


def test_cifar10_binary(isolated_home):
    d = isolated_home / "cifar-10-batches-bin"
    d.mkdir()
    expected = []
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        raw, labels, images = _cifar_records(3, 1, seed=i)
        (d / name).write_bytes(raw)
        expected.append((labels, images))
    x, y = read_cifar_binary(d / "test_batch.bin")
    np.testing.assert_array_equal(x, expected[-1][1].transpose(0, 2, 3, 1))  # CHW planes -> HWC
    (xtr, ytr), (xte, yte) = load_cifar10(root=isolated_home)
    assert xtr.shape == (15, 32, 32, 3) and ytr.shape == (15, 1) and ytr.dtype == np.uint8
    np.testing.assert_array_equal(ytr[3:6, 0], expected[1][0][:, 0])
    ds = CIFAR10(root=isolated_home, train=False)
    assert len(ds) == 3 and ds[0][0].shape == (32, 32, 3)
    (d / "test_batch.bin").write_bytes(raw[:-10])
    with pytest.raises(DataFormatError, match="test_batch.bin: size .* 3073-byte"):
        CIFAR10(root=isolated_home, train=False)


def test_cifar100_binary_fine_labels(isolated_home):
    d = isolated_home / "cifar-100-binary"
    d.mkdir()
    raw, labels, _ = _cifar_records(4, 2)
    (d / "train.bin").write_bytes(raw)
    (d / "test.bin").write_bytes(raw)
    ds = CIFAR100(root=isolated_home)
    np.testing.assert_array_equal(ds.targets, labels[:, 1])


def test_cifar10_python_version_with_safe_unpickler(isolated_home):
    d = isolated_home / "cifar-10-batches-py"
    d.mkdir()
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": b"x", b"labels": [1, 2, 3, 4], b"data": data, b"filenames": [b"a"] * 4}
        (d / name).write_bytes(pickle.dumps(batch, protocol=2))
    ds = CIFAR10(root=isolated_home, train=False)
    np.testing.assert_array_equal(ds.targets, [1, 2, 3, 4])
    np.testing.assert_array_equal(ds.data, data.reshape(4, 3, 32, 32).transpose(0, 2, 3, 1))


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_safe_loads_data_roundtrip(protocol):
    obj = {"a": [1, -2, 300, 70000, 2**40], b"b": (1.5, None, True, False), "s": "héllo",
           "arr": np.arange(6, dtype=">i4").reshape(2, 3), "f": np.ones((2, 2), dtype=np.float32).T}
    out = safe_loads(pickle.dumps(obj, protocol=protocol))
    assert out["a"] == obj["a"] and out[b"b"] == obj[b"b"] and out["s"] == "héllo"
    np.testing.assert_array_equal(out["arr"], obj["arr"])
    np.testing.assert_array_equal(out["f"], obj["f"])


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_safe_loads_refuses_malicious_pickle_without_running_it(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"data": _Evil(marker)}, protocol=protocol)
    # protocols 2/4 are stopped at the global itself; protocol 0 at its first text opcode
    expected = "evil.pkl.*data-only subset" if protocol == 0 else r"refusing to load global '(posix|os)\.system'"
    with pytest.raises(UnsafePickleError, match=expected):
        safe_loads(payload, source="evil.pkl")
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="not allowed|refusing"):
        safe_loads(pickle.dumps(np.array([object()]), protocol=2))


# ---------------------------------------------------------------- downloads
def _resource_for(src, **sums):
    return Resource("file.bin", (src.as_uri(),), **sums)


def test_download_file_url_verified_and_atomic(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload" * 1000)
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    out = downloader.download(_resource_for(src, sha256=good), tmp_path / "dl")
    assert out.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["file.bin"]


def test_download_checksum_mismatch_leaves_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="SHA-256 .* != expected 0000"):
        downloader.download(_resource_for(src, sha256="0" * 64), tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []
    with pytest.raises(ValueError, match="no checksum"):
        downloader.download(_resource_for(src), tmp_path / "dl")


def test_mnist_download_true_with_monkeypatched_fetch(isolated_home, monkeypatch):
    from ember.data.datasets import mnist
    rng = np.random.default_rng(0)
    blobs = {}
    for prefix, n in (("train", 6), ("t10k", 3)):
        for kind, arr in (("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                          ("labels-idx1", np.arange(n, dtype=np.uint8))):
            name = f"{prefix}-{kind}-ubyte"
            write_idx(isolated_home / "tmp.gz", arr)
            blobs[name + ".gz"] = (isolated_home / "tmp.gz").read_bytes()
    resources = {name[:-3]: Resource(name, ("https://example.invalid/" + name,),
                                     sha256=hashlib.sha256(blob).hexdigest())
                 for name, blob in blobs.items()}
    monkeypatch.setattr(mnist.MNIST_SPEC, "resources", resources)
    monkeypatch.setattr(downloader, "fetch", lambda url: io.BytesIO(blobs[url.rsplit("/", 1)[1]]))
    ds = MNIST(root=isolated_home / "data", train=True, download=True)
    assert len(ds) == 6 and (isolated_home / "data" / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    # a mirror serving wrong bytes: refused, nothing written
    monkeypatch.setattr(downloader, "fetch", lambda url: io.BytesIO(b"junk"))
    with pytest.raises(ChecksumError):
        MNIST(root=isolated_home / "data2", train=False, download=True)
    assert not any(p.is_file() for p in (isolated_home / "data2").rglob("*"))


# ---------------------------------------------------------------- ImageFolder
def test_image_folder_npy(tmp_path):
    for label, cls in enumerate(["cat", "dog"]):
        (tmp_path / cls).mkdir()
        for i in range(3):
            np.save(tmp_path / cls / f"{i}.npy", np.full((4, 4, 3), label * 10 + i, np.uint8))
    (tmp_path / "dog" / "notes.txt").write_text("ignored")
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and len(ds) == 6
    img, y = ds[4]
    assert y == 1 and img[0, 0, 0] == 11
    x, labels, classes = load_image_folder(tmp_path)
    assert x.shape == (6, 4, 4, 3) and labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_image_folder_png_needs_pillow_message(tmp_path, monkeypatch):
    import builtins
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"\x89PNG")
    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(ImportError, match=r"x.png needs Pillow.*pip install Pillow"):
        ImageFolder(tmp_path)[0]


def test_cifar10_download_extracts_verified_archive(isolated_home, monkeypatch):
    import tarfile
    from ember.data.datasets import cifar
    stage = isolated_home / "stage" / "cifar-10-batches-bin"
    stage.mkdir(parents=True)
    raw, labels, _ = _cifar_records(2, 1)
    for name in [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]:
        (stage / name).write_bytes(raw)
    archive = isolated_home / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(stage, arcname="cifar-10-batches-bin")
    res = Resource("cifar-10-binary.tar.gz", (archive.as_uri(),),
                   sha256=hashlib.sha256(archive.read_bytes()).hexdigest())
    monkeypatch.setattr(cifar.CIFAR10_SPEC, "resource", res)
    ds = CIFAR10(root=isolated_home / "data", train=False, download=True)
    np.testing.assert_array_equal(ds.targets, labels[:, 0])
    assert (isolated_home / "data" / "cifar-10-batches-bin" / "test_batch.bin").is_file()
    assert not list((isolated_home / "data").glob(".extract-*"))
