"""The numba one-pass updates (extra 'fast') give bit-for-bit the NumPy passes' results."""
import numpy as np
import pytest

import ember
from ember.optim import _fused
from ember.train import keras_rules

pytest.importorskip("numba")


def _run(make_opt, compiled, shapes, steps=4, dtype=np.float32):
    saved = _fused._compiled
    _fused._compiled = _fused._UNSET if compiled else None
    try:
        rng = np.random.default_rng(0)
        params = [ember.nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]
        opt = make_opt(params)
        for _ in range(steps):
            for p in params:
                p.grad = ember.tensor(rng.standard_normal(p.shape).astype(dtype))
            opt.step()
        if compiled:
            assert _fused.compiled() is not None
        return [p.data.copy() for p in params] + [
            np.asarray(v) for st in opt.state.values() for k, v in sorted(st.items())
            if k != "step"]
    finally:
        _fused._compiled = saved


@pytest.mark.parametrize("make_opt", [
    lambda ps: ember.optim.RMSprop(ps, lr=1e-3),
    lambda ps: ember.optim.RMSprop(ps, lr=0.05, alpha=0.9, eps=1e-6),
    lambda ps: keras_rules.KerasRMSprop(ps, lr=1e-3),
    lambda ps: keras_rules.KerasRMSprop(ps, lr=0.01, rho=0.8, eps=1e-5),
], ids=["torch-default", "torch-other", "keras-default", "keras-other"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_equals_numpy(make_opt, dtype):
    shapes = [(512, 784), (512,), (10, 512), (10,)]  # large ones compiled, small ones NumPy
    a = _run(make_opt, True, shapes, dtype=dtype)
    b = _run(make_opt, False, shapes, dtype=dtype)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def test_strided_and_small_arrays_take_the_numpy_path():
    big = np.zeros((200, 100), np.float32)
    assert _fused.flat_views(big, big, big) is not None or _fused.compiled() is None
    assert _fused.flat_views(big[:, ::2], big[:, ::2], big[:, ::2]) is None
    assert _fused.flat_views(big[:10], big[:10], big[:10]) is None        # 1000 < threshold
    assert _fused.flat_views(big.astype(np.float16), big.astype(np.float16),
                             big.astype(np.float16)) is None
