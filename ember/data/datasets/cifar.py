"""CIFAR-10 / CIFAR-100 from the official binary or python (pickle) versions.

Binary record: label byte(s) (CIFAR-100: coarse then fine) + 3072 bytes of image,
stored as 1024 R, 1024 G, 1024 B values (row-major 32x32 planes).
The python version is read with ember's restricted unpickler (nothing is executed).
"""
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from .labelled import LabelledImages
from . import downloader as _download
from ._files import open_regular
from .errors import DataFormatError, DatasetNotFoundError
from .paths import candidate_dirs, check_root, download_root
from .safe_pickle import safe_load

_IMAGE_BYTES = 3 * 32 * 32


def read_cifar_binary(path, label_bytes=1):
    """Read one CIFAR binary batch -> (uint8 images (N, 32, 32, 3), uint8 labels (N, label_bytes))."""
    f, _ = open_regular(path)
    with f:
        raw = np.frombuffer(f.read(), dtype=np.uint8)
    record = label_bytes + _IMAGE_BYTES
    if raw.size == 0 or raw.size % record:
        raise DataFormatError(f"{path}: size {raw.size} bytes is not a positive multiple of the "
                              f"{record}-byte CIFAR record (truncated or wrong file / wrong CIFAR variant?)")
    rows = raw.reshape(-1, record)
    images = rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), rows[:, :label_bytes].copy()


def read_cifar_pickle(path, label_key):
    """Read one CIFAR python batch safely -> (uint8 images (N, 32, 32, 3), labels (N,))."""
    batch = safe_load(path)
    if not isinstance(batch, dict):
        raise DataFormatError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        keys = sorted(repr(k)[:40] for k in batch)[:20]
        raise DataFormatError(f"{path}: missing 'data' or '{label_key}' (keys: {', '.join(keys)})")
    data, labels = batch["data"], batch[label_key]
    if not isinstance(data, np.ndarray):
        raise DataFormatError(f"{path}: 'data' must be a NumPy array, got {type(data).__name__}")
    if isinstance(labels, list) and all(type(v) is int for v in labels):
        bad = [v for v in labels if not 0 <= v <= 255]  # before asarray: huge ints overflow
        labels = np.asarray(labels if not bad else [], dtype=np.int64)
    elif isinstance(labels, np.ndarray) and labels.dtype.kind in "iu":
        bad = labels[(labels < 0) | (labels > 255)].tolist() if labels.size else []
    else:
        raise DataFormatError(f"{path}: '{label_key}' must be a list (or array) of ints")
    if bad:
        raise DataFormatError(f"{path}: label {str(bad[0])[:30]} is not a class index (0..255)")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _IMAGE_BYTES or \
            labels.ndim != 1 or len(data) != len(labels):
        raise DataFormatError(f"{path}: expected uint8 data (N, 3072) and N labels, got "
                              f"{data.dtype} {data.shape} and {labels.shape}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.uint8)


class _CifarSpec:
    def __init__(self, name, classes, bin_dir, bin_files, label_bytes, py_dir, py_files, py_key,
                 resource):
        self.__dict__.update(locals())


CIFAR10_SPEC = _CifarSpec(
    "CIFAR-10", 10, "cifar-10-batches-bin",
    {True: [f"data_batch_{i}.bin" for i in range(1, 6)], False: ["test_batch.bin"]}, 1,
    "cifar-10-batches-py", {True: [f"data_batch_{i}" for i in range(1, 6)], False: ["test_batch"]}, "labels",
    # SHA-256 as published by several independent sources; MD5 as listed by torchvision.
    _download.Resource("cifar-10-binary.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
                       sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                       md5="c32a1d4ab5d03f1284b67883e8d87530"))
CIFAR100_SPEC = _CifarSpec(
    "CIFAR-100", 100, "cifar-100-binary", {True: ["train.bin"], False: ["test.bin"]}, 2,
    "cifar-100-python", {True: ["train"], False: ["test"]}, "fine_labels",
    # Only the MD5 (torchvision's list) is known here; no SHA-256 could be confirmed offline.
    _download.Resource("cifar-100-binary.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",),
                       md5="03b5dce01913d631647c71ecec9e9cb8"))


def _safe_extract(archive, directory):
    """Extract a tar.gz into ``directory`` refusing links/absolute paths; atomic per top dir."""
    directory = Path(directory)
    tmp = Path(tempfile.mkdtemp(dir=directory, prefix=".extract-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for m in tar.getmembers():
                target = (tmp / m.name).resolve()
                if not (m.isfile() or m.isdir()) or not str(target).startswith(str(tmp.resolve())):
                    raise DataFormatError(f"{archive}: refusing unsafe archive member {m.name!r}")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
                tar.extractall(tmp, filter="data")
            else:  # members were checked above: regular files and dirs inside tmp only
                tar.extractall(tmp)
        for child in tmp.iterdir():
            dest = directory / child.name
            if not dest.exists():
                os.replace(child, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _find(spec, root):
    dirs = candidate_dirs(root, ("cifar", spec.name.lower()))
    for d in dirs:
        if (d / spec.bin_dir).is_dir():
            return "bin", d / spec.bin_dir
        if (d / spec.py_dir).is_dir():
            return "py", d / spec.py_dir
    return None, dirs


def _load_split(spec, root, train, download):
    check_root(root, spec.name, download)
    kind, where = _find(spec, root)
    if kind is None:
        if not download:
            looked = "\n    ".join(str(d) for d in where)
            cls = spec.name.replace("-", "")
            raise DatasetNotFoundError(
                f"{spec.name} not found (looked for {spec.bin_dir}/ or {spec.py_dir}/ in:\n    {looked})\n"
                f"To get it:\n  - ember.data.{cls}(download=True) (saves into {download_root(root)})\n"
                f"  - or extract {spec.resource.urls[0]} (or the python version) into "
                f"{download_root(root)} (or pass root=... / set $EMBER_DATA)")
        target = download_root(root)
        archive = _download.download(spec.resource, target)
        _safe_extract(archive, target)
        kind, where = _find(spec, target)
        if kind is None:
            raise DataFormatError(f"{archive}: archive did not contain {spec.bin_dir}/")
    images, labels = [], []
    for name in (spec.bin_files if kind == "bin" else spec.py_files)[bool(train)]:
        path = where / name
        if not path.is_file():
            raise DatasetNotFoundError(f"{spec.name}: missing file {path}")
        if kind == "bin":
            x, y = read_cifar_binary(path, spec.label_bytes)
            y = y[:, -1]  # CIFAR-100: fine label is the second byte
        else:
            x, y = read_cifar_pickle(path, spec.py_key)
        if y.size and y.max() >= spec.classes:
            raise DataFormatError(f"{path}: label {y.max()} out of range for {spec.classes} classes")
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels)


def load_cifar10(root=None, download=False):
    """CIFAR-10 as Keras does: ``(x_train, y_train), (x_test, y_test)``, uint8 (N, 32, 32, 3)
    images and uint8 (N, 1) labels."""
    return tuple((x, y[:, None]) for x, y in
                 (_load_split(CIFAR10_SPEC, root, t, download) for t in (True, False)))


def load_cifar100(root=None, download=False):
    """CIFAR-100 (fine labels) as Keras does: uint8 (N, 32, 32, 3), uint8 (N, 1)."""
    return tuple((x, y[:, None]) for x, y in
                 (_load_split(CIFAR100_SPEC, root, t, download) for t in (True, False)))


class CIFAR10(LabelledImages):
    """CIFAR-10. Sample: (uint8 HWC (32, 32, 3) image, int label); ToTensor() gives CHW floats."""

    spec = CIFAR10_SPEC

    _load_split = staticmethod(_load_split)


class CIFAR100(CIFAR10):
    """CIFAR-100 with its 100 fine labels."""

    spec = CIFAR100_SPEC
