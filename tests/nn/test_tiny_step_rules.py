"""The tiny step's rules take cheaper NumPy routes (np.dot where it makes matmul's BLAS call, a
0-d zero and a float mask in ReLU, scalar sums and an in-place gradient in one-sample
cross-entropy); each must give the plain formulas' floats bit for bit, signed zeros and NaNs
included, on the shapes and dtypes it takes and on those it leaves to the general code."""
import warnings

import numpy as np
import pytest

import ember
from ember.nn import functional as F

_SPECIAL = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, -2.5])


def _data(rng, shape, dtype, special):
    a = rng.standard_normal(shape).astype(dtype)
    if special:
        m = rng.random(shape) < 0.3
        a[m] = rng.choice(_SPECIAL, int(m.sum())).astype(dtype)
    return a


def _bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("m,k,n", [(1, 16, 16), (1, 16, 2), (3, 16, 2), (1, 1, 9), (1, 7, 1),
                                   (4, 1, 1), (2, 3, 5)])
@pytest.mark.parametrize("special", [False, True])
def test_linear_matches_the_matmul_formulas(dtype, m, k, n, special):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    x, w = _data(rng, (m, k), dtype, special), _data(rng, (n, k), dtype, special)
    b, g = _data(rng, (n,), dtype, special), _data(rng, (m, n), dtype, special)
    xt, wt, bt = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = F.linear(xt, wt, bt)
        y.backward(ember.tensor(g))
        ref = x @ w.T
        ref += b
        gb = g[0] + np.zeros((), dtype) if m == 1 else g.sum(axis=0)
        expected = (ref, g @ w, g.T @ x, gb)
    for got, want in zip((y.data, xt.grad.data, wt.grad.data, bt.grad.data), expected):
        _bits(got, want)


@pytest.mark.parametrize("layout", ["slice", "transposed", "weight_view", "no_bias", "2d_bias"])
def test_linear_other_layouts_match_the_matmul_formulas(layout):
    rng = np.random.default_rng(1)
    x0 = _data(rng, (2, 32), np.float32, True)
    w = _data(rng, (16, 16), np.float32, True)
    b = _data(rng, (16,), np.float32, True)
    xt = ember.tensor(x0, requires_grad=True)
    wt = ember.tensor(w, requires_grad=True)
    bt = None if layout == "no_bias" else ember.tensor(b, requires_grad=True)
    if layout == "slice":
        xin, x = xt[:, ::2], x0[:, ::2]
    elif layout == "transposed":
        xt = ember.tensor(np.ascontiguousarray(x0[:, :16].T), requires_grad=True)
        xin, x = xt.T, x0[:, :16]
    elif layout == "weight_view":  # x shares the weight's memory (matmul's syrk case)
        xt = wt
        xin, x = wt.reshape(16, 16), w
    else:
        xin = xt = ember.tensor(x0[:, :16].copy(), requires_grad=True)
        x = x0[:, :16]
    if layout == "2d_bias":
        bt = ember.tensor(b.reshape(1, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = F.linear(xin, wt, bt)
        ref = x @ w.T
        if bt is not None:
            ref += bt.data
    _bits(y.data, ref)


def test_linear_errors_are_unchanged():
    x = ember.tensor(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="matmul: Input operand 1 has a mismatch"):
        ember.ops.nn_layers.Linear.apply(x, ember.tensor(np.ones((2, 4), np.float32)), None)
    with pytest.raises(ValueError, match=r"linear: shapes \(1, 3\) and \(2, 3\) and \(3,\) do "
                                         "not broadcast"):
        F.linear(x, ember.tensor(np.ones((2, 3), np.float32)),
                 ember.tensor(np.ones(3, np.float32)))
    with pytest.raises(ValueError, match="non-broadcastable output operand"):
        F.linear(x, ember.tensor(np.ones((2, 3), np.float32)),
                 ember.tensor(np.ones((2, 2), np.float32)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 16), (3, 5), (), (2, 2, 3)])
def test_relu_matches_maximum_and_the_bool_mask(dtype, shape):
    rng = np.random.default_rng(2)
    a, g = _data(rng, shape, dtype, True), _data(rng, shape, dtype, True)
    xt = ember.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = ember.nn.ReLU()(xt)
        y.backward(ember.tensor(g))
        out = np.maximum(a, a.dtype.type(0))
        gx = np.multiply(g, out > 0, dtype=g.dtype)
    _bits(y.data, out)
    _bits(xt.grad.data, gx)


def _ce(z, y, **kw):
    zt = ember.tensor(z, requires_grad=True)
    out = F.cross_entropy(zt, ember.tensor(y), **kw)
    (out.sum() if kw.get("reduction") == "none" else out).backward()
    return out.data, zt.grad.data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", [[-0.0, 0.0], [0.0, -0.0], [3.0, 3.0], [1e-40, -1e-40],
                                 [2.0, -1.0, 2.0], [-0.0, 0.0, 0.0, -0.0], [1.0, 5.0, 2.0, 5.0, 0.5],
                                 [0.25, -3.0, 7.0, 1.0, 2.0, -0.0]])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_one_sample_cross_entropy_matches_the_weighted_general_path(dtype, row, reduction):
    """Ties and signed zeros (which maximum is subtracted), 2-4 classes (the exp sum on
    scalars) and more (the reduction): loss and gradient of the general (weighted) code."""
    z = np.array([row], dtype)
    for t in range(len(row)):
        y = np.array([t])
        fast = _ce(z, y, reduction=reduction)
        general = _ce(z, y, reduction=reduction, weight=ember.tensor(np.ones(len(row), dtype)))
        _bits(fast[0], general[0])
        _bits(fast[1], general[1])


@pytest.mark.parametrize("classes", [2, 3, 4, 5, 7])
def test_one_sample_gradient_of_one_matches_the_general_path(classes):
    """backward()'s gradient of 1 (the in-place softmax - onehot) and an explicit 1.0."""
    rng = np.random.default_rng(classes)
    z = (rng.standard_normal((1, classes)) * 4).astype(np.float32)
    y = rng.integers(0, classes, 1)
    for explicit in (False, True):
        out = []
        for weight in (None, ember.tensor(np.ones(classes, np.float32))):
            zt = ember.tensor(z, requires_grad=True)
            loss = F.cross_entropy(zt, ember.tensor(y), weight=weight)
            if explicit:
                loss.backward(ember.tensor(np.float32(1.0)))
            else:
                loss.backward()
            out.append(zt.grad.data)
        _bits(out[0], out[1])


def test_cross_entropy_inline_target_checks():
    z = np.zeros((1, 3), np.float32)
    loss, grad = _ce(z, np.array([-100]))  # the ignore_index: no error, NaN loss, zero gradient
    assert np.isnan(loss) and not grad.any()
    loss, grad = _ce(np.zeros((3, 3), np.float32), np.array([2, 7, 0]), ignore_index=7)
    assert np.isfinite(loss)
    for bad, rows in ((3, 1), (-1, 1), (5, 3)):
        t = np.full(rows, 0)
        t[-1] = bad
        with pytest.raises(IndexError, match=f"target {bad} is out of bounds for 3 classes"):
            F.cross_entropy(ember.tensor(np.zeros((rows, 3), np.float32)), ember.tensor(t))
    for dt in (np.uint8, np.int32):
        loss, _ = _ce(np.array([[1.0, 2.0, 0.5]], np.float32), np.array([1], dt))
        ref, _ = _ce(np.array([[1.0, 2.0, 0.5]], np.float32), np.array([1]))
        _bits(loss, ref)
    with pytest.raises(ValueError, match=r"needs a target of shape \(1,\)"):
        F.cross_entropy(ember.tensor(z), ember.tensor(np.array([0, 1])))
