"""The numba one-pass updates (extra 'fast') give bit-for-bit the NumPy passes' results."""
import os

import numpy as np
import pytest

import ember
from ember.optim import _fused
from ember.train import keras_rules

pytest.importorskip("numba")


def _run(make_opt, compiled, shapes, steps=4, dtype=np.float32):
    saved = _fused._compiled
    _fused._compiled = _fused._UNSET if compiled else None
    env = os.environ.pop("EMBER_KERNELS", None)  # this test picks the path itself
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
        if env is not None:
            os.environ["EMBER_KERNELS"] = env


@pytest.mark.parametrize("make_opt", [
    lambda ps: ember.optim.RMSprop(ps, lr=1e-3),
    lambda ps: ember.optim.RMSprop(ps, lr=0.05, alpha=0.9, eps=1e-6),
    lambda ps: keras_rules.KerasRMSprop(ps, lr=1e-3),
    lambda ps: keras_rules.KerasRMSprop(ps, lr=0.01, rho=0.8, eps=1e-5),
    lambda ps: ember.optim.Adam(ps, lr=1e-3),
    lambda ps: ember.optim.Adam(ps, lr=0.01, betas=(0.8, 0.9), eps=1e-6, amsgrad=True),
    lambda ps: ember.optim.Adam(ps, lr=0.01, weight_decay=0.1),
    lambda ps: ember.optim.Adam(ps, lr=0.01, maximize=True),
    lambda ps: ember.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    lambda ps: keras_rules.KerasAdam(ps, lr=1e-3),
    lambda ps: keras_rules.KerasAdam(ps, lr=0.01, betas=(0.8, 0.9), eps=1e-5, weight_decay=0.1),
    lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.01),
], ids=["torch-default", "torch-other", "keras-default", "keras-other", "adam", "amsgrad",
        "adam-l2", "adam-max", "adamw", "keras-adam", "keras-adamw", "sgd-mom", "sgd-damp-wd"])
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


def test_adam_kernel_takes_nan_of_amsgrad_max_as_numpy():
    """np.maximum propagates a NaN from either side; the compiled AMSGrad max does too."""
    from ember.optim import _numba_updates as comp
    w, d = np.zeros(4, np.float32), np.array([1, np.nan, 1, 1], np.float32)
    m, v = np.zeros(4, np.float32), np.zeros(4, np.float32)
    vmax = np.array([0, 0, np.nan, 5], np.float32)
    c = np.float32
    comp.adam_amsgrad(w, d, m, v, vmax, c(.9), c(.1), c(.99), c(.01), c(1e-8), c(-1e-3))
    assert np.isnan(vmax[1]) and np.isnan(vmax[2]) and vmax[3] == 5 and vmax[0] == c(.01)


def test_numpy_scalar_hyperparameters_keep_the_numpy_path():
    assert _fused.python_scalars(1e-3, 0.9, 1)
    assert not _fused.python_scalars(1e-3, np.float64(0.9))
