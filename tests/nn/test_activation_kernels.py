"""The compiled ReLU passes (extra 'fast') give bit for bit the NumPy rule's results, keep the
gradient check and the PyTorch comparison; the NumPy path stays complete without them."""
import numpy as np
import pytest

import ember
from ember import kernels as K
from ember.autograd.gradcheck import gradcheck
from ember.ops import _activation_kernels as AK

IMPLS = ["numpy"] + (["numba"] if "numba" in K.available() else [])


@pytest.fixture(params=IMPLS)
def impl(request, monkeypatch):
    monkeypatch.setattr(K, "_chosen", None)
    K.use(request.param)
    monkeypatch.setattr(AK, "_MIN_SIZE", 1)  # small arrays too, so gradcheck runs the kernel
    yield request.param


def _specials(a):
    a.flat[:6] = [np.nan, -0.0, 0.0, -np.inf, np.inf, 1e-45]
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_bits_equal_numpy_rule(impl, dtype):
    rng = np.random.default_rng(0)
    a = _specials(rng.standard_normal((40, 7, 9)).astype(dtype))
    g = _specials(rng.standard_normal(a.shape).astype(dtype))
    x = ember.tensor(a, requires_grad=True)
    y = ember.relu(x)
    y.backward(ember.tensor(g))
    want_y = np.maximum(a, dtype(0))
    with np.errstate(invalid="ignore"):  # inf * 0, as the rule itself
        want_g = np.multiply(g, want_y > 0, dtype=g.dtype)
    for got, want in ((y.data, want_y), (x.grad.data, want_g)):
        assert got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))  # -0 and +0 as NumPy
    assert (AK.compiled_for(a) is not None) == (impl == "numba")


def test_relu_strided_and_mixed_dtype_take_numpy(impl):
    a = np.ones((64, 64))
    assert AK.compiled_for(a[:, ::2]) is None
    assert AK.compiled_for(a, a.astype(np.float32)) is None
    assert AK.compiled_for(a.astype(np.int64)) is None
    x = ember.tensor(np.arange(-8.0, 8.0).reshape(4, 4).T, requires_grad=True)  # strided
    ember.relu(x).sum().backward()
    assert np.array_equal(x.grad.data, (np.arange(-8.0, 8.0).reshape(4, 4).T > 0) * 1.0)


def test_relu_gradcheck_through_kernel(impl):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 5))
    a[np.abs(a) < 0.05] = 0.3  # away from the kink for finite differences
    assert gradcheck(lambda t: (ember.relu(t) * ember.relu(t)).sum(),
                     (ember.tensor(a, requires_grad=True),))


def test_relu_matches_torch(impl):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a = rng.standard_normal((33, 17)).astype(np.float32)
    g = rng.standard_normal(a.shape).astype(np.float32)
    x = ember.tensor(a, requires_grad=True)
    y = ember.relu(x)
    y.backward(ember.tensor(g))
    tx = torch.tensor(a, requires_grad=True)
    ty = torch.relu(tx)
    ty.backward(torch.tensor(g))
    assert np.array_equal(y.data, ty.detach().numpy())
    assert np.array_equal(x.grad.data, tx.grad.numpy())


def test_relu_on_a_permuted_dense_layout(impl):
    """A channels-last buffer viewed as (N, C, H, W) (what the convolutions return) takes the
    kernel too, and the result keeps that layout."""
    rng = np.random.default_rng(3)
    a = _specials(rng.standard_normal((4, 6, 5, 3))).transpose(0, 3, 1, 2)
    g = _specials(rng.standard_normal((4, 6, 5, 3))).transpose(0, 3, 1, 2)
    xb = ember.tensor(a.transpose(0, 2, 3, 1), requires_grad=True)
    x = xb.permute(0, 3, 1, 2)
    assert x.data.strides == a.strides
    y = ember.relu(x)
    want_y = np.maximum(a, 0.0)
    assert np.array_equal(y.data, want_y, equal_nan=True)
    assert np.array_equal(np.signbit(y.data), np.signbit(want_y))
    assert y.data.strides == a.strides
    with np.errstate(invalid="ignore"):
        want_g = np.multiply(g, want_y > 0, dtype=g.dtype)
    got_g = AK.relu_backward(g, want_y)
    if impl == "numba":
        assert got_g.strides == a.strides
        assert np.array_equal(got_g, want_g, equal_nan=True)
        assert np.array_equal(np.signbit(got_g), np.signbit(want_g))
    else:
        assert got_g is None  # the NumPy rule runs
    assert (AK.compiled_for(a, g) is not None) == (impl == "numba")
    assert AK.compiled_for(a, np.ascontiguousarray(g)) is None  # layouts differ
