"""Fuzz read_idx (raw and gzipped): any file gives an array or DataFormatError, with memory
bounded by what the file can hold; valid files round-trip."""
import gzip

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="the fuzz suite needs Hypothesis (pip install -e .[test])")
from hypothesis import given, strategies as st  # noqa: E402

from ember.data import DataFormatError, read_idx, write_idx  # noqa: E402

from .strategies import FUZZ, idx_headers, idx_seeds, mutated, peak_bytes  # noqa: E402

SEEDS = idx_seeds()
_GZIP_RATIO = 1032  # deflate's maximum expansion


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-idx")


def _check(path, data):
    path.write_bytes(data)
    peak, exc = peak_bytes(read_idx, path)
    assert exc is None or isinstance(exc, DataFormatError), repr(exc)
    if exc is not None:
        assert str(path) in str(exc)
    limit = (_GZIP_RATIO if data[:2] == b"\x1f\x8b" else 2) * len(data) + (4 << 20)
    assert peak < limit, f"{peak} bytes for a {len(data)}-byte file"


@FUZZ
@given(data=mutated(SEEDS))
def test_mutated_idx_files_raise_only_data_format_error(workdir, data):
    _check(workdir / "m.idx", data)


@FUZZ
@given(data=idx_headers())
def test_hostile_idx_headers_raise_only_data_format_error(workdir, data):
    _check(workdir / "h.idx", data)


@FUZZ
@given(data=mutated([gzip.decompress(s) for s in SEEDS if s[:2] == b"\x1f\x8b"]).map(
    lambda raw: gzip.compress(raw, mtime=0)))
def test_gzipped_mutations_raise_only_data_format_error(workdir, data):
    _check(workdir / "g.idx.gz", data)


@FUZZ
@given(st.sampled_from(["u1", "i1", "i2", "i4", "f4", "f8"]),
       st.lists(st.integers(0, 5), max_size=4).map(tuple), st.booleans(), st.integers(0, 9))
def test_valid_idx_files_round_trip(workdir, dtype, shape, compress, seed):
    a = np.random.default_rng(seed).integers(-100, 100, shape).astype(dtype)
    path = workdir / "r.idx"
    write_idx(path, a, compress=compress)
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(a, b)
