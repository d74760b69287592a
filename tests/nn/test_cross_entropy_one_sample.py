"""Cross-entropy of one sample (the tiny step's batch of 1) and of a few rows takes Python-side
checks and a slice; the values are the general path's (the gradient bit for bit; the loss up
to the sign of a zero or a NaN, as the fast path always was), and odd inputs (infinite or NaN
logits, ignored or out-of-range targets) behave as before."""
import numpy as np
import pytest

import ember
from ember.nn import functional as F


def _same(a, b):
    """Equal bit for bit, signed zeros included; NaN where the other has NaN (the sign of a
    NaN from inf - inf is not part of the contract: the fast path always gave +NaN)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    nan = np.isnan(a)
    assert np.array_equal(nan, np.isnan(b))
    assert a[~nan].tobytes() == b[~nan].tobytes()


def _run(z, y, **kw):
    zt = ember.tensor(z, requires_grad=True)
    out = F.cross_entropy(zt, ember.tensor(y), **kw)
    (out.sum() if kw.get("reduction") == "none" else out).backward()
    return out.data, zt.grad.data


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("row", [[1.0, 2.0, 3.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0],
                                 [np.nan, 0.0, 1.0], [-0.0, 0.0, -0.0], [1e30, -1e30, 0.0]])
def test_one_sample_matches_the_general_path(reduction, row):
    z = np.array([row], np.float32)
    for t in ([0], [2]):
        y = np.array(t)
        with np.errstate(all="ignore"):
            fast = _run(z, y, reduction=reduction)
            general = _run(z, y, reduction=reduction, weight=ember.tensor(np.ones(3, np.float32)))
        assert np.array_equal(fast[0], general[0], equal_nan=True)
        _same(fast[1], general[1])


def test_a_few_rows_with_an_infinite_logit_match_the_general_path():
    z = np.array([[1.0, np.inf], [0.5, 0.25], [-np.inf, 3.0]], np.float64)
    y = np.array([0, 1, 1])
    with np.errstate(all="ignore"):
        fast = _run(z, y)
        general = _run(z, y, weight=ember.tensor(np.ones(2)))
    assert np.array_equal(fast[0], general[0], equal_nan=True)
    _same(fast[1], general[1])


def test_one_ignored_sample_and_bad_targets():
    loss, grad = _run(np.array([[1.0, 2.0]], np.float32), np.array([-100]))
    assert np.isnan(loss) and np.array_equal(grad, np.zeros((1, 2), np.float32))
    with pytest.raises(IndexError, match="target 2 is out of bounds for 2 classes"):
        F.cross_entropy(ember.tensor(np.zeros((1, 2), np.float32)), ember.tensor(np.array([2])))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.cross_entropy(ember.tensor(np.zeros((3, 2), np.float32)), ember.tensor(np.array([0, -1, 1])))
    with pytest.raises(ValueError, match="probability targets must have the input's shape"):
        F.cross_entropy(ember.tensor(np.zeros((1, 2), np.float32)), ember.tensor(np.array([0.5])))
    with pytest.raises(TypeError, match="class-index targets must be integers"):
        F.nll_loss(ember.tensor(np.zeros((1, 2), np.float32)), ember.tensor(np.array([0.5])))


def test_linear_one_row_bias_gradient_is_the_column_sum():
    lin = ember.nn.Linear(3, 4)
    x = ember.tensor(np.array([[1.0, -2.0, 0.5]], np.float32))
    g = np.array([[-0.0, 0.0, 1.5, -2.0]], np.float32)
    lin(x).backward(ember.tensor(g))
    assert lin.bias.grad.data.tobytes() == g.sum(axis=0).tobytes()  # +0.0 for the -0.0 entry
    with pytest.raises(ValueError, match=r"Linear\(in_features=3.*input has 2 features"):
        lin(ember.tensor(np.zeros((1, 2), np.float32)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", [2, 64, 65])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_one_random_sample_matches_the_general_path(dtype, classes, reduction):
    rng = np.random.default_rng(classes)
    for _ in range(5):
        z = (rng.standard_normal((1, classes)) * 5).astype(dtype)
        y = rng.integers(0, classes, 1)
        fast = _run(z, y, reduction=reduction)
        general = _run(z, y, reduction=reduction, weight=ember.tensor(np.ones(classes, dtype)))
        assert fast[0].dtype == general[0].dtype
        assert np.array_equal(fast[0], general[0], equal_nan=True)
        _same(fast[1], general[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_row_log_softmax_is_the_batch_rows_bit_for_bit(dtype):
    """The one-row path (a Python maximum, one full reduction, a scalar log) gives each row's
    log-softmax as the batched (axis-1) path computes it, for 1 to 64 classes."""
    rng = np.random.default_rng(0)
    for c in (1, 2, 3, 7, 8, 9, 16, 33, 64):
        z = (rng.standard_normal((3, c)) * 20).astype(dtype)
        y = rng.integers(0, c, 3)
        batch = _run(z, y, reduction="none")
        for i in range(3):
            one = _run(z[i:i + 1], y[i:i + 1], reduction="none")
            _same(one[0], batch[0][i:i + 1])
            _same(one[1], batch[1][i:i + 1])
