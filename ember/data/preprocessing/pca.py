"""PCA and ZCA whitening from the SVD of the training covariance.

With centred data X (N, D), C = X^T X / (N - 1) = U diag(S) U^T.
PCA:  z = X U_k            (whiten: z / sqrt(S_k + eps))
ZCA:  z = X U diag(1 / sqrt(S + eps)) U^T   (whitened, yet closest to the input)
"""
import numpy as np

from .base import Preprocessor, as_float_array


def _covariance_svd(x2d):
    mean = x2d.mean(axis=0)
    xc = x2d - mean
    n = len(x2d)
    if n < 2:
        raise ValueError(f"need at least 2 samples to estimate a covariance, got {n}")
    cov = xc.T @ xc / (n - 1)
    u, s, _ = np.linalg.svd(cov, hermitian=True)
    # fix the sign ambiguity: each component's largest-|.| entry is positive
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1
    return mean, u * signs, s


class PCA(Preprocessor):
    """Project samples (flattened) onto the top ``n_components`` principal axes.

    Attributes: ``components_`` (k, D), ``explained_variance_`` (k,), ``mean_`` (D,).
    """

    _fitted_attr = "components_"

    def __init__(self, n_components=None, whiten=False, eps=1e-8):
        self.n_components, self.whiten, self.eps = n_components, bool(whiten), float(eps)
        self.components_ = self.explained_variance_ = self.mean_ = None
        self._sample_shape = None

    def fit(self, x):
        x = as_float_array(x, "PCA")
        self._sample_shape = x.shape[1:]
        x2 = x.reshape(len(x), -1).astype(np.float64)
        mean, u, s = _covariance_svd(x2)
        k = x2.shape[1] if self.n_components is None else int(self.n_components)
        if not 1 <= k <= x2.shape[1]:
            raise ValueError(f"PCA: n_components must be in [1, {x2.shape[1]}], got {self.n_components}")
        self.mean_, self.components_, self.explained_variance_ = mean, u[:, :k].T, s[:k]
        self.explained_variance_ratio_ = s[:k] / s.sum() if s.sum() > 0 else np.zeros(k)
        self._dtype = x.dtype
        return self

    def transform(self, x):
        self._check_fitted()
        x = as_float_array(x, "PCA")
        self._check_shape(x, self._sample_shape)
        z = (x.reshape(len(x), -1) - self.mean_) @ self.components_.T
        if self.whiten:
            z = z / np.sqrt(self.explained_variance_ + self.eps)
        return z.astype(self._dtype)

    def inverse_transform(self, z):
        self._check_fitted()
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != len(self.components_):
            raise ValueError(f"PCA.inverse_transform: expected shape (N, {len(self.components_)}), got {z.shape}")
        if self.whiten:
            z = z * np.sqrt(self.explained_variance_ + self.eps)
        x = z @ self.components_ + self.mean_
        return x.reshape((len(z),) + tuple(self._sample_shape)).astype(self._dtype)


class ZCAWhitening(Preprocessor):
    """ZCA whitening: decorrelates features to unit variance while staying in pixel space
    (output has the input's shape). ``eps`` regularises tiny eigenvalues."""

    _fitted_attr = "whitening_"

    def __init__(self, eps=1e-5):
        self.eps = float(eps)
        self.mean_ = self.whitening_ = self.coloring_ = None

    def fit(self, x):
        x = as_float_array(x, "ZCAWhitening")
        self._sample_shape, self._dtype = x.shape[1:], x.dtype
        mean, u, s = _covariance_svd(x.reshape(len(x), -1).astype(np.float64))
        self.mean_ = mean
        self.whitening_ = (u / np.sqrt(s + self.eps)) @ u.T
        self.coloring_ = (u * np.sqrt(s + self.eps)) @ u.T
        return self

    def transform(self, x):
        self._check_fitted()
        x = as_float_array(x, "ZCAWhitening")
        self._check_shape(x, self._sample_shape)
        z = (x.reshape(len(x), -1) - self.mean_) @ self.whitening_
        return z.reshape(x.shape).astype(self._dtype)

    def inverse_transform(self, z):
        self._check_fitted()
        z = as_float_array(z, "ZCAWhitening")
        x = z.reshape(len(z), -1) @ self.coloring_ + self.mean_
        return x.reshape(z.shape).astype(self._dtype)
