"""Fuzz the restricted unpickler: any input gives a result or DataFormatError, in bounded
memory; valid data pickles still load exactly."""
import math
import pickle

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="the fuzz suite needs Hypothesis (pip install -e .[test])")
from hypothesis import given, strategies as st  # noqa: E402

from ember.data import DataFormatError, read_cifar_pickle, safe_loads  # noqa: E402

from .strategies import FUZZ, PICKLE_OPS, cifar_pickle_seeds, mutated, peak_bytes  # noqa: E402

SEEDS = cifar_pickle_seeds()


@FUZZ
@given(mutated(SEEDS, PICKLE_OPS, max_ops=6))
def test_mutated_pickles_raise_only_data_format_error(data):
    peak, exc = peak_bytes(safe_loads, data)
    assert exc is None or isinstance(exc, DataFormatError), repr(exc)
    assert peak < 64 * len(data) + (8 << 20)


@FUZZ
@given(st.binary(max_size=64).map(lambda b: b"\x80\x02" + b), st.lists(st.sampled_from(PICKLE_OPS), max_size=40))
def test_opcode_soup_raises_only_data_format_error(prefix, ops):
    data = prefix + b"".join(ops) + b"."
    peak, exc = peak_bytes(safe_loads, data)
    assert exc is None or isinstance(exc, DataFormatError), repr(exc)
    assert peak < 64 * len(data) + (8 << 20)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-pickle")


@FUZZ
@given(data=mutated(SEEDS[:3], PICKLE_OPS))
def test_mutated_cifar_batches_raise_only_data_format_error(workdir, data):
    path = workdir / "batch"
    path.write_bytes(data)
    try:
        x, y = read_cifar_pickle(path, "labels")
    except DataFormatError as e:
        assert str(path) in str(e)
    else:
        assert x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3) and len(y) == len(x)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 100, 2 ** 100),
                    st.floats(allow_nan=False), st.text(max_size=8), st.binary(max_size=8))
arrays = st.builds(lambda dt, shape, seed: np.random.default_rng(seed).integers(0, 100, shape).astype(dt),
                   st.sampled_from(["u1", "i4", "f4", ">f8", "i8", "?"]),
                   st.lists(st.integers(0, 3), max_size=3).map(tuple), st.integers(0, 9))
keys = st.one_of(st.text(max_size=6), st.binary(max_size=6), st.integers(-5, 5))
data_trees = st.recursive(st.one_of(scalars, arrays), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
    st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype.newbyteorder("=") == b.dtype and \
            a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return type(b) is float and (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


@FUZZ
@given(data_trees, st.sampled_from([2, 3, 4]))
def test_data_pickles_round_trip(obj, protocol):
    assert _same(obj, safe_loads(pickle.dumps(obj, protocol=protocol)))
