"""MNIST and Fashion-MNIST from IDX files (Keras-style loaders + Datasets).

Files of the official shapes are checked against the published checksums on first use
(see ``verify``); other shapes are read as the user's own data in IDX format.
"""
import hashlib

import numpy as np

from .labelled import LabelledImages
from . import downloader as _download
from .errors import DataFormatError, DatasetNotFoundError
from . import verify as _verify
from .idx import _read_idx, read_idx
from .paths import candidate_dirs, check_root, download_root, find_file

_SPLITS = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
           False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# The shapes of the official files (MNIST and Fashion-MNIST alike): a file of that shape
# claims to be the published one and must match its checksum.
OFFICIAL_SHAPES = {"train-images-idx3-ubyte": (60000, 28, 28), "train-labels-idx1-ubyte": (60000,),
                   "t10k-images-idx3-ubyte": (10000, 28, 28), "t10k-labels-idx1-ubyte": (10000,)}


class _Spec:
    def __init__(self, name, subdirs, system_dirs, apt, resources, classes):
        self.name, self.subdirs, self.system_dirs = name, subdirs, system_dirs
        self.apt, self.resources, self.classes = apt, resources, classes


def _res(base_urls, name, **sums):
    return _download.Resource(name + ".gz", tuple(u + name + ".gz" for u in base_urls), **sums)


# Checksums: see docs in the module README / report. MNIST SHA-256 values are the widely
# published ones for the .gz archives (TensorFlow mirror); not re-verified offline here.
_MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/")
MNIST_SPEC = _Spec(
    "MNIST", ("mnist", "MNIST/raw", "MNIST"), (), None,
    {"train-images-idx3-ubyte": _res(_MNIST_URLS, "train-images-idx3-ubyte",
                                     sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                     md5="f68b3c2dcbeaaa9fbdd348bbdeb94873"),
     "train-labels-idx1-ubyte": _res(_MNIST_URLS, "train-labels-idx1-ubyte",
                                     sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                     md5="d53e105ee54ea40749a09fcbcd1e9432"),
     "t10k-images-idx3-ubyte": _res(_MNIST_URLS, "t10k-images-idx3-ubyte",
                                    sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                    md5="9fb629c4189551a2d022fa330f9573f3"),
     "t10k-labels-idx1-ubyte": _res(_MNIST_URLS, "t10k-labels-idx1-ubyte",
                                    sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                                    md5="ec29112dd5afa0611ce80d1b7f02629c")},
    [str(d) for d in range(10)])

# Fashion-MNIST: md5 = the upstream (zalandoresearch README) checksums of the official .gz
# files; content_sha256 = SHA-256 of the *decompressed* IDX data, computed here from
# Debian's dataset-fashion-mnist files (Debian re-compressed the archives, so their .gz
# hashes differ from upstream's while the content is the same data).
_FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_SPEC = _Spec(
    "Fashion-MNIST", ("fashion-mnist", "FashionMNIST/raw", "FashionMNIST"),
    ("/usr/share/datasets/fashion-mnist",), "dataset-fashion-mnist",
    {"train-images-idx3-ubyte": _res(_FASHION_URLS, "train-images-idx3-ubyte",
                                     md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                     content_sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
     "train-labels-idx1-ubyte": _res(_FASHION_URLS, "train-labels-idx1-ubyte",
                                     md5="25c81989df183df01b3e8a0aad5dffbe",
                                     content_sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
     "t10k-images-idx3-ubyte": _res(_FASHION_URLS, "t10k-images-idx3-ubyte",
                                    md5="bef4ecab320f06d8554ea6380940ec79",
                                    content_sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
     "t10k-labels-idx1-ubyte": _res(_FASHION_URLS, "t10k-labels-idx1-ubyte",
                                    md5="bb300cfdad3c16e7a12a480ee83cd310",
                                    content_sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")},
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
     "Ankle boot"])


def _locate(spec, root, names):
    dirs = candidate_dirs(root, spec.subdirs, spec.system_dirs)
    for d in dirs:
        found = [find_file(d, n) for n in names]
        if all(found):
            return found
    return None, dirs


def _not_found(spec, names, dirs, root):
    target = download_root(root) / spec.subdirs[0]
    ways = []
    if spec.apt:
        ways.append(f"install the Debian/Ubuntu package: sudo apt install {spec.apt} "
                    f"(puts the files in {spec.system_dirs[0]})")
    cls = "FashionMNIST" if spec is FASHION_SPEC else "MNIST"
    ways.append(f"download them: ember.data.{cls}(download=True) (saves into {target})")
    ways.append(f"copy {', '.join(n + '[.gz]' for n in names)} into {target} "
                "(or pass root=... / set $EMBER_DATA)")
    looked = "\n    ".join(str(d) for d in dirs)
    only = " (only root= was searched)" if root is not None else ""
    return DatasetNotFoundError(f"{spec.name} files not found. Looked in{only}:\n    {looked}\n"
                                "To get them:\n  - " + "\n  - ".join(ways))


def _read_checked(spec, name, path, ndim):
    """read_idx, plus the checksum check of an official-shaped file on first use."""
    res = spec.resources[name]
    if _verify.is_verified(path, res):
        return read_idx(path, expected_ndim=ndim)
    h = hashlib.sha256()
    arr = _read_idx(path, ndim, hasher=h)
    if arr.shape == OFFICIAL_SHAPES[name]:
        with open(path, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        if _verify.check(path, res, h.hexdigest(), compressed, spec.name):
            _verify.remember(path, res)
    return arr


def _load_split(spec, root, train, download):
    names = _SPLITS[bool(train)]
    check_root(root, spec.name, download)
    result = _locate(spec, root, names)
    if result[0] is None:
        if not download:
            raise _not_found(spec, names, result[1], root)
        target = download_root(root) / spec.subdirs[0]
        for n in names:
            if find_file(target, n) is None:
                _download.download(spec.resources[n], target)
        result = _locate(spec, target, names)
    images_path, labels_path = result
    images = _read_checked(spec, names[0], images_path, 3)
    labels = _read_checked(spec, names[1], labels_path, 1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataFormatError(f"{images_path} / {labels_path}: expected unsigned-byte IDX data, "
                              f"got {images.dtype} / {labels.dtype}")
    if len(images) != len(labels):
        raise DataFormatError(f"{images_path} has {len(images)} images but {labels_path} has "
                              f"{len(labels)} labels")
    if labels.size and labels.max() >= len(spec.classes):
        raise DataFormatError(f"{labels_path}: label {labels.max()} out of range for "
                              f"{len(spec.classes)} classes")
    return images, labels


def _load_both(spec, root, download):
    return _load_split(spec, root, True, download), _load_split(spec, root, False, download)


def load_mnist(root=None, download=False):
    """MNIST as ``(x_train, y_train), (x_test, y_test)``: uint8 (N, 28, 28) and uint8 (N,)."""
    return _load_both(MNIST_SPEC, root, download)


def load_fashion_mnist(root=None, download=False):
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``: uint8 (N, 28, 28), uint8 (N,)."""
    return _load_both(FASHION_SPEC, root, download)


class MNIST(LabelledImages):
    """MNIST digits. Sample: (uint8 (28, 28) image, int label); add ToTensor() for float CHW.

    Files are searched in ``root``, ``$EMBER_DATA``, ``~/.ember/data`` (and known system
    dirs); ``download=True`` fetches and verifies the official archives.
    """

    spec = MNIST_SPEC

    _load_split = staticmethod(_load_split)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): same format as MNIST, 10 clothing classes."""

    spec = FASHION_SPEC
