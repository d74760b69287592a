"""Loss functions by Keras name for ``Model.compile(loss=...)``.

Keras meanings: ``categorical_crossentropy`` takes probabilities (the output of a softmax layer)
and one-hot targets; ``sparse_categorical_crossentropy`` takes probabilities and class indices.
PyTorch-style names (``cross_entropy``) take logits. Every loss is ``f(y_pred, y_true) -> scalar``.
"""
import numpy as np

from ..tensor import Tensor

_EPS = 1e-7  # Keras clips probabilities to [eps, 1 - eps] before the log


def _f():
    from ..nn import functional as F
    return F


def categorical_crossentropy(y_pred, y_true):
    """mean over samples of -sum_c y_c log p_c (p clipped to [1e-7, 1 - 1e-7])."""
    if y_true.ndim != y_pred.ndim or y_true.shape != y_pred.shape:
        raise ValueError(
            f"categorical_crossentropy: targets of shape {tuple(y_true.shape)} for predictions of "
            f"shape {tuple(y_pred.shape)}; it expects one-hot targets of the same shape "
            "(use ember.data.to_categorical, or loss='sparse_categorical_crossentropy' for "
            "class indices)")
    logp = y_pred.clip(_EPS, 1 - _EPS).log()
    return -(logp * y_true).sum(-1).mean()


def sparse_categorical_crossentropy(y_pred, y_true):
    """mean over samples of -log p[target] (p clipped to [1e-7, 1 - 1e-7])."""
    idx = y_true.data.reshape(-1).astype(np.int64, copy=False)
    p = y_pred.reshape(-1, y_pred.shape[-1])
    picked = p[np.arange(len(idx)), idx]
    return -(picked.clip(_EPS, 1 - _EPS).log()).mean()


def binary_crossentropy(y_pred, y_true):
    """mean of -(y log p + (1 - y) log(1 - p)) on probabilities."""
    p = y_pred.clip(_EPS, 1 - _EPS)
    y = y_true.reshape(p.shape) if y_true.shape != p.shape else y_true
    y = y.astype(p.dtype)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def mean_squared_error(y_pred, y_true):
    d = y_pred - y_true.reshape(y_pred.shape).astype(y_pred.dtype)
    return (d * d).mean()


def mean_absolute_error(y_pred, y_true):
    return (y_pred - y_true.reshape(y_pred.shape).astype(y_pred.dtype)).abs().mean()


def cross_entropy(y_pred, y_true):
    """Softmax cross-entropy from logits (``ember.nn.functional.cross_entropy``)."""
    return _f().cross_entropy(y_pred, y_true)


def huber(y_pred, y_true):
    return _f().huber_loss(y_pred, y_true.reshape(y_pred.shape).astype(y_pred.dtype))


def hinge(y_pred, y_true):
    """Multiclass SVM hinge loss on scores with class-index targets."""
    return _f().multi_margin_loss(y_pred, y_true)


_BY_NAME = {
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "cross_entropy": cross_entropy, "huber": huber, "hinge": hinge,
    "multi_margin": hinge,
}

# losses whose targets are class indices / one-hot rows (checked before training starts)
SPARSE = {"sparse_categorical_crossentropy", "cross_entropy", "hinge", "multi_margin"}
ONE_HOT = {"categorical_crossentropy"}


def get(loss):
    """(name, callable) for a loss name or a callable ``f(y_pred, y_true)``."""
    if isinstance(loss, str):
        key = loss.lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown loss {loss!r}; known: {sorted(_BY_NAME)}, or pass a "
                             "callable f(y_pred, y_true)")
        return key, _BY_NAME[key]
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    raise TypeError(f"loss must be a name or a callable, got {loss!r}")


def as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))
