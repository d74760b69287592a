import numpy as np
import pytest

from ember.data import to_categorical
from ember.data.preprocessing import PCA, ChannelMean, MeanImage, Standardize, ZCAWhitening, ZeroCenter


def _data(n=500, d=6, seed=0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d))
    return (rng.normal(size=(n, d)) @ mix + rng.normal(size=d) * 5).astype(np.float64)


def test_zero_center_and_inverse():
    x = _data()
    zc = ZeroCenter().fit(x)
    np.testing.assert_allclose(zc.transform(x).mean(axis=0), 0, atol=1e-10)
    test = _data(seed=1)
    np.testing.assert_allclose(zc.transform(test), test - x.mean(axis=0))
    np.testing.assert_allclose(zc.inverse_transform(zc.transform(test)), test)
    with pytest.raises(RuntimeError, match="not fitted"):
        ZeroCenter().transform(x)
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(6,\)"):
        zc.transform(np.zeros((2, 5)))


def test_standardize():
    x = _data()
    s = Standardize()
    z = s.fit_transform(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-6)
    np.testing.assert_allclose(s.inverse_transform(z), x, atol=1e-8)
    const = np.ones((4, 2))
    assert np.all(np.isfinite(Standardize().fit_transform(const)))  # eps avoids 0/0


def test_mean_image_and_channel_mean():
    rng = np.random.default_rng(0)
    x = rng.random((10, 3, 4, 4)).astype(np.float32)
    mi = MeanImage().fit(x)
    assert mi.mean_image_.shape == (3, 4, 4)
    np.testing.assert_allclose(mi.transform(x).mean(axis=0), 0, atol=1e-6)
    cm = ChannelMean(channel_axis=1).fit(x)
    np.testing.assert_allclose(cm.mean_, x.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(cm.transform(x).mean(axis=(0, 2, 3)), 0, atol=1e-6)
    nhwc = x.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ChannelMean(channel_axis=-1).fit(nhwc).mean_, cm.mean_, rtol=1e-6)
    with pytest.raises(ValueError, match="fitted on 3 channels"):
        cm.transform(np.zeros((2, 2, 4, 4)))
    with pytest.raises(ValueError, match="at least 3-D"):
        MeanImage().fit(np.zeros((3, 4)))


def test_pca_matches_numpy_svd():
    x = _data()
    pca = PCA(n_components=3).fit(x)
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    for k in range(3):  # components equal up to sign
        assert abs(abs(pca.components_[k] @ vt[k]) - 1) < 1e-8
    np.testing.assert_allclose(pca.explained_variance_, s[:3] ** 2 / (len(x) - 1), rtol=1e-8)
    z = pca.transform(x)
    assert z.shape == (500, 3)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.diag(pca.explained_variance_), atol=1e-6)
    full = PCA().fit(x)
    np.testing.assert_allclose(full.inverse_transform(full.transform(x)), x, atol=1e-8)
    w = PCA(3, whiten=True).fit(x).transform(x)
    np.testing.assert_allclose(np.cov(w, rowvar=False), np.eye(3), atol=1e-6)
    with pytest.raises(ValueError, match="n_components"):
        PCA(7).fit(x)


def test_zca_whitening_identity_covariance_and_images():
    x = _data()
    zca = ZCAWhitening(eps=1e-9)
    z = zca.fit_transform(x)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(6), atol=1e-5)
    np.testing.assert_allclose(zca.inverse_transform(z), x, atol=1e-6)
    # ZCA's whitening matrix is symmetric (it stays in the input space)
    np.testing.assert_allclose(zca.whitening_, zca.whitening_.T, atol=1e-10)
    imgs = np.random.default_rng(1).random((200, 1, 3, 3))
    assert ZCAWhitening().fit_transform(imgs).shape == (200, 1, 3, 3)


def test_to_categorical_like_keras():
    out = to_categorical([0, 2, 1])
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert out.dtype == np.float32
    assert to_categorical(np.array([[1], [0]]), 4).shape == (2, 4)
    assert to_categorical(np.zeros((2, 3), int), 5).shape == (2, 3, 5)
    with pytest.raises(ValueError, match="num_classes=2"):
        to_categorical([0, 3], num_classes=2)
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([-1, 0])


def test_standardize_leaves_constant_features_unscaled():
    from ember.data.preprocessing import Standardize
    train = np.zeros((10, 3), np.float32)
    train[:, 1] = np.arange(10)
    s = Standardize().fit(train)
    out = s.transform(np.array([[5.0, 4.5, 1.0]], np.float32))
    assert out[0, 0] == 5.0 and out[0, 2] == 1.0  # constant in training: shifted, not divided
    np.testing.assert_allclose(s.inverse_transform(out), [[5.0, 4.5, 1.0]], rtol=1e-6)
