"""Common base for fitted preprocessing steps."""
import numpy as np


def as_float_array(x, name, min_ndim=2):
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(x, np.ndarray):
        x = data
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numeric data, got dtype {x.dtype}")
    if x.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim}-D data (samples first), got shape {x.shape}")
    return x.astype(x.dtype if x.dtype.kind == "f" else np.float32, copy=False)


class Preprocessor:
    """sklearn-style: ``fit(x_train)`` learns statistics, ``transform(x)`` applies them to
    any split, ``fit_transform`` does both, ``inverse_transform`` undoes when possible."""

    _fitted_attr = None

    def fit(self, x):
        raise NotImplementedError

    def transform(self, x):
        raise NotImplementedError

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def _check_fitted(self):
        if getattr(self, self._fitted_attr, None) is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(x_train) first")

    def _check_shape(self, x, expected):
        if tuple(x.shape[1:]) != tuple(expected):
            raise ValueError(f"{type(self).__name__}: fitted on samples of shape {tuple(expected)}, "
                             f"got {tuple(x.shape[1:])}")
