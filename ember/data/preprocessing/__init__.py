"""Preprocessing fitted on training data, applied to any split (sklearn-style API)."""
from .base import Preprocessor
from .centering import ChannelMean, MeanImage, ZeroCenter
from .pca import PCA, ZCAWhitening
from .standardize import Standardize

__all__ = ["Preprocessor", "ZeroCenter", "MeanImage", "ChannelMean", "Standardize", "PCA", "ZCAWhitening"]
