"""IMDB movie-review sentiment in Keras's format (``imdb.npz``: reviews as lists of word ranks,
labels 0/1) and Keras's ``load_data`` options.

The file is searched as the image sets are (``root``, ``$EMBER_DATA``, ``~/.ember/data``, each
also under ``imdb/``); ``download=True`` fetches Keras's copy and checks its SHA-256. The reviews
are object arrays inside the npz: they are unpickled with a reader that only allows NumPy's
array-rebuilding functions (no other code can run from the file).
"""
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np

from . import downloader as _download
from .errors import DataFormatError, DatasetNotFoundError
from .paths import candidate_dirs, download_root

_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Keras's published checksums of its files (keras.datasets.imdb)
IMDB_NPZ = _download.Resource(
    "imdb.npz", (_URL + "imdb.npz",),
    sha256="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")
IMDB_WORD_INDEX = _download.Resource(
    "imdb_word_index.json", (_URL + "imdb_word_index.json",),
    md5="bfafd718b763782e994055a2d397834f")
_SUBDIRS = ("imdb", "IMDB")
_NUMPY_ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
                  ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy", "ndarray"), ("numpy", "dtype")}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles NumPy object arrays of plain Python values; refuses every other global."""

    def find_class(self, module, name):
        if (module, name) in _NUMPY_ALLOWED:
            return super().find_class(module, name)
        from .safe_pickle import UnsafePickleError
        raise UnsafePickleError(f"imdb.npz: refusing to load {module}.{name} (only NumPy arrays "
                                "are allowed in a data file)")


def _read_member(zf, name, path):
    with zf.open(name) as raw:
        f = io.BytesIO(raw.read())
    version = np.lib.format.read_magic(f)
    shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                             else np.lib.format.read_array_header_2_0(f))
    if dtype.hasobject:
        arr = _ArraysOnly(f).load()
        if not isinstance(arr, np.ndarray):
            raise DataFormatError(f"{path}: {name} is not an array")
        return arr
    f.seek(0)
    return np.lib.format.read_array(f, allow_pickle=False)


def read_imdb_npz(path):
    """(x_train, y_train, x_test, y_test) from a Keras-format ``imdb.npz``."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            want = ["x_train", "y_train", "x_test", "y_test"]
            missing = [n for n in want if n + ".npy" not in names]
            if missing:
                raise DataFormatError(f"{path}: not a Keras imdb.npz (missing {missing}; has "
                                      f"{sorted(names)})")
            arrs = [_read_member(zf, n + ".npy", path) for n in want]
    except zipfile.BadZipFile as e:
        raise DataFormatError(f"{path}: not a valid npz (zip) file: {e}") from None
    x_train, y_train, x_test, y_test = arrs
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataFormatError(f"{path}: {len(x_train)} train reviews but {len(y_train)} labels, "
                              f"{len(x_test)} test reviews but {len(y_test)} labels")
    return x_train, y_train, x_test, y_test


def _find(resource, path, root, download):
    if path is not None and Path(path).expanduser().is_file():
        return Path(path).expanduser()
    name = resource.filename if path is None else Path(path).name
    dirs = candidate_dirs(root, _SUBDIRS)
    for d in dirs:
        if (d / name).is_file():
            return d / name
    target = download_root(root) / _SUBDIRS[0]
    if download:
        return _download.download(resource, target)
    looked = "\n    ".join(str(d) for d in dirs)
    raise DatasetNotFoundError(
        f"IMDB file {name} not found. Looked in:\n    {looked}\nTo get it:\n"
        f"  - download it: ember.keras.datasets.imdb.load_data(download=True) (saves into "
        f"{target}, checked against Keras's published checksum)\n"
        f"  - copy Keras's {resource.filename} ({resource.urls[0]}) into {target} "
        "(or pass root=... / set $EMBER_DATA)")


def load_imdb(path=None, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3, root=None, download=False):
    """Keras's ``imdb.load_data``: ((x_train, y_train), (x_test, y_test)) with reviews as object
    arrays of int lists. Each split is shuffled with ``seed``; every review starts with
    ``start_char``; word ranks are shifted by ``index_from``; reviews of ``maxlen`` words or
    more are dropped; ranks outside [skip_top, num_words) become ``oov_char`` (or are removed
    when it is None)."""
    x_train, y_train, x_test, y_test = read_imdb_npz(_find(IMDB_NPZ, path, root, download))
    rng = np.random.RandomState(seed)
    idx = np.arange(len(x_train))
    rng.shuffle(idx)
    x_train, y_train = x_train[idx], y_train[idx]
    idx = np.arange(len(x_test))
    rng.shuffle(idx)
    x_test, y_test = x_test[idx], y_test[idx]

    def shift(xs):
        if start_char is not None:
            return [[start_char] + [w + index_from for w in x] for x in xs]
        return [[w + index_from for w in x] for x in xs] if index_from else [list(x) for x in xs]
    x_train, x_test = shift(x_train), shift(x_test)
    if maxlen:
        keep = [i for i, x in enumerate(x_train) if len(x) < maxlen]
        x_train, y_train = [x_train[i] for i in keep], y_train[keep]
        keep = [i for i, x in enumerate(x_test) if len(x) < maxlen]
        x_test, y_test = [x_test[i] for i in keep], y_test[keep]
        if not x_train or not x_test:
            raise ValueError(f"imdb.load_data: maxlen={maxlen} leaves no review in a split; "
                             "increase maxlen")
    xs = x_train + x_test
    if not num_words:
        num_words = max(max(x) for x in xs if x)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    n = len(x_train)

    def objects(lists):
        out = np.empty(len(lists), dtype=object)
        for i, x in enumerate(lists):   # element by element: equal lengths must not make 2-D
            out[i] = x
        return out
    return (objects(xs[:n]), np.asarray(y_train)), (objects(xs[n:]), np.asarray(y_test))


def imdb_word_index(path=None, root=None, download=False):
    """Keras's ``imdb.get_word_index``: word -> rank (before ``index_from`` is added)."""
    with open(_find(IMDB_WORD_INDEX, path, root, download)) as f:
        return json.load(f)
