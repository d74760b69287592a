"""Fuzz the checkpoint loader and Model.load: any file gives an object or CheckpointError,
in bounded memory, and a refused file leaves the model and its optimizer untouched."""
import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="the fuzz suite needs Hypothesis (pip install -e .[test])")
from hypothesis import given  # noqa: E402

import ember  # noqa: E402
import ember.nn as nn  # noqa: E402
from ember.io import CheckpointError, load  # noqa: E402

from .strategies import (FUZZ, checkpoint_header_edits, checkpoint_seed, mutated,  # noqa: E402
                         peak_bytes)

# The seeds are built at run time (they need a save), so each test wraps its @given.

JSON_BITS = [b'"', b"[", b"]", b"{", b"}", b",", b":", b"-1", b"1e999", b"99999999999999999999",
             b'"$tensor"', b'"$dict"', b'"shape"', b'"data_offsets"', b"null", b"\\u0000"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-ckpt")


@pytest.fixture(scope="module")
def seed(workdir):
    return checkpoint_seed(workdir)


def _check(path, data):
    path.write_bytes(data)
    peak, exc = peak_bytes(load, path)
    assert exc is None or isinstance(exc, CheckpointError), repr(exc)
    if exc is not None:
        assert str(path) in str(exc)
    assert peak < 16 * len(data) + (4 << 20), f"{peak} bytes for a {len(data)}-byte file"


def test_mutated_checkpoints_raise_only_checkpoint_error(workdir, seed):
    @FUZZ
    @given(data=mutated([seed], JSON_BITS))
    def run(data):
        _check(workdir / "m.ember", data)
    run()


def test_hostile_header_fields_raise_only_checkpoint_error(workdir, seed):
    @FUZZ
    @given(data=checkpoint_header_edits(seed))
    def run(data):
        _check(workdir / "h.ember", data)
    run()


def _model():
    ember.manual_seed(0)
    m = ember.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    m.compile(optimizer="adam", loss="cross_entropy")
    rng = np.random.default_rng(0)
    m.fit(rng.standard_normal((16, 3)).astype(np.float32), rng.integers(0, 2, 16), epochs=1,
          batch_size=8, verbose=0)
    return m


def _state(m):
    opt = m.optimizer.state_dict()
    arrays = [p.data.copy() for p in m.parameters()]
    arrays += [np.asarray(v).copy() for s in opt["state"].values() for v in s.values()]
    return arrays, opt["param_groups"], ember.random.get_generator().bit_generator.state, m._epoch


def _same(a, b):
    return (len(a[0]) == len(b[0]) and all(np.array_equal(x, y, equal_nan=True)
                                           for x, y in zip(a[0], b[0])) and a[1:] == b[1:])


def test_refused_model_checkpoints_change_nothing(workdir):
    m = _model()
    good = workdir / "model.ember"
    m.save(good)
    seed = good.read_bytes()

    @FUZZ
    @given(data=mutated([seed], JSON_BITS) | checkpoint_header_edits(seed))
    def run(data):
        path = workdir / "bad-model.ember"
        path.write_bytes(data)
        before = _state(m)
        try:
            m.load(path)
        except CheckpointError as e:
            assert str(path) in str(e)
            assert _same(before, _state(m)), "a refused checkpoint changed the model"
        else:
            m.load(good)  # accepted (e.g. an edit in padding): back to the known state
    run()
