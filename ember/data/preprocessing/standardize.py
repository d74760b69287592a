"""Per-feature standardisation."""
import numpy as np

from .base import Preprocessor, as_float_array


class Standardize(Preprocessor):
    """``(x - mean) / (std + eps)`` with per-feature mean/std of the training data."""

    _fitted_attr = "mean_"

    def __init__(self, eps=1e-8):
        self.eps = float(eps)
        self.mean_ = self.std_ = None

    def fit(self, x):
        x = as_float_array(x, "Standardize")
        self.mean_ = x.mean(axis=0, dtype=np.float64).astype(x.dtype)
        self.std_ = x.std(axis=0, dtype=np.float64).astype(x.dtype)
        return self

    def transform(self, x):
        self._check_fitted()
        x = as_float_array(x, "Standardize")
        self._check_shape(x, self.mean_.shape)
        return (x - self.mean_) / (self.std_ + self.eps)

    def inverse_transform(self, x):
        self._check_fitted()
        x = as_float_array(x, "Standardize")
        return x * (self.std_ + self.eps) + self.mean_
