"""Per-feature standardisation."""
import numpy as np

from .base import Preprocessor, as_float_array


class Standardize(Preprocessor):
    """``(x - mean) / scale`` with the per-feature mean and std of the training data; features
    whose std is below ``eps`` (constant in training, e.g. always-black border pixels) get scale
    1, as scikit-learn does, so unseen values there are not blown up by a division by ~0."""

    _fitted_attr = "mean_"

    def __init__(self, eps=1e-8):
        self.eps = float(eps)
        self.mean_ = self.std_ = self.scale_ = None

    def fit(self, x):
        x = as_float_array(x, "Standardize")
        self.mean_ = x.mean(axis=0, dtype=np.float64).astype(x.dtype)
        self.std_ = x.std(axis=0, dtype=np.float64).astype(x.dtype)
        self.scale_ = np.where(self.std_ < self.eps, 1, self.std_).astype(x.dtype)
        return self

    def transform(self, x):
        self._check_fitted()
        x = as_float_array(x, "Standardize")
        self._check_shape(x, self.mean_.shape)
        return (x - self.mean_) / self.scale_

    def inverse_transform(self, x):
        self._check_fitted()
        x = as_float_array(x, "Standardize")
        return x * self.scale_ + self.mean_
