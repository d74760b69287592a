"""Mean subtraction: ZeroCenter (per feature), MeanImage, ChannelMean."""
import numpy as np

from .base import Preprocessor, as_float_array


class ZeroCenter(Preprocessor):
    """Subtract the per-feature training mean: ``x - mean(x_train, axis=0)``."""

    _fitted_attr = "mean_"

    def __init__(self):
        self.mean_ = None

    def fit(self, x):
        x = as_float_array(x, type(self).__name__)
        self.mean_ = x.mean(axis=0, dtype=np.float64).astype(x.dtype)
        return self

    def transform(self, x):
        self._check_fitted()
        x = as_float_array(x, type(self).__name__)
        self._check_shape(x, self.mean_.shape)
        return x - self.mean_

    def inverse_transform(self, x):
        self._check_fitted()
        return as_float_array(x, type(self).__name__) + self.mean_


class MeanImage(ZeroCenter):
    """Subtract the mean training image (any layout: (N, C, H, W), (N, H, W, C), (N, H, W))."""

    def fit(self, x):
        x = as_float_array(x, "MeanImage", min_ndim=3)
        return super().fit(x)

    @property
    def mean_image_(self):
        return self.mean_


class ChannelMean(Preprocessor):
    """Subtract one mean per channel (over samples and pixels); ``channel_axis=1`` for
    NCHW, ``-1`` for NHWC."""

    _fitted_attr = "mean_"

    def __init__(self, channel_axis=1):
        self.channel_axis = channel_axis
        self.mean_ = None

    def _shape(self, x):
        axis = self.channel_axis % x.ndim
        if axis == 0:
            raise ValueError("ChannelMean: channel_axis cannot be the sample axis 0")
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        return axis, shape

    def fit(self, x):
        x = as_float_array(x, "ChannelMean", min_ndim=2)
        axis, _ = self._shape(x)
        reduce = tuple(a for a in range(x.ndim) if a != axis)
        self.mean_ = x.mean(axis=reduce, dtype=np.float64).astype(x.dtype)
        return self

    def _mean_for(self, x):
        axis, shape = self._shape(x)
        if x.shape[axis] != self.mean_.size:
            raise ValueError(f"ChannelMean: fitted on {self.mean_.size} channels, got {x.shape[axis]} "
                             f"on axis {self.channel_axis} (shape {x.shape})")
        return self.mean_.reshape(shape)

    def transform(self, x):
        self._check_fitted()
        x = as_float_array(x, "ChannelMean")
        return x - self._mean_for(x)

    def inverse_transform(self, x):
        self._check_fitted()
        x = as_float_array(x, "ChannelMean")
        return x + self._mean_for(x)
