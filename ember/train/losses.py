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
    _check_one_hot(y_pred, y_true)
    if isinstance(y_pred, Tensor) and isinstance(y_true, Tensor) and \
            y_pred.dtype == y_true.dtype and y_pred.dtype.char in "fd":
        # one fused node, the same floats as the chain below (which handles mixed and low
        # precision dtypes, as autocast runs the chain's log in float32)
        from ..ops.nn_loss import ClippedCategoricalCrossEntropy
        return ClippedCategoricalCrossEntropy.apply(y_pred, y_true, eps=_EPS)
    logp = y_pred.clip(_EPS, 1 - _EPS).log()
    return -(logp * y_true).sum(-1).mean()


def sparse_categorical_crossentropy(y_pred, y_true):
    """mean over samples of -log p[target] (p clipped to [1e-7, 1 - 1e-7])."""
    idx = check_class_labels("sparse_categorical_crossentropy", y_true.data,
                             y_pred.shape[-1]).reshape(-1)
    p = y_pred.reshape(-1, y_pred.shape[-1])
    picked = p[np.arange(len(idx)), idx]
    return -(picked.clip(_EPS, 1 - _EPS).log()).mean()


def binary_crossentropy(y_pred, y_true):
    """mean of -(y log p + (1 - y) log(1 - p)) on probabilities."""
    check_binary_labels("binary_crossentropy", y_true.data)
    p = y_pred.clip(_EPS, 1 - _EPS)
    y = y_true.reshape(p.shape) if y_true.shape != p.shape else y_true
    y = y.astype(p.dtype)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def mean_squared_error(y_pred, y_true):
    d = y_pred - y_true.reshape(y_pred.shape).astype(y_pred.dtype)
    return (d * d).mean()


def mean_absolute_error(y_pred, y_true):
    return (y_pred - y_true.reshape(y_pred.shape).astype(y_pred.dtype)).abs().mean()


def _host(y):
    """Labels as a host NumPy array (they may live on a device: the checks read values)."""
    if isinstance(y, np.ndarray):
        return y
    from ..backend import to_host
    return np.asarray(to_host(y)) if hasattr(y, "shape") else np.asarray(y)


def check_class_labels(name, y, num_classes, where=""):
    """Class-index targets for loss ``name``: integers in 0..num_classes-1 (a -1 is an error,
    not the last class). Returns them as int64."""
    y = _host(y)
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and y.size and np.array_equal(y, np.round(y)) and y.ndim == 1:
            y = y.astype(np.int64)
        else:
            raise ValueError(f"loss {name!r} expects integer class indices 0..{num_classes - 1}"
                             f"{where}, got dtype {y.dtype} with shape {y.shape} (one-hot "
                             "targets go with 'categorical_crossentropy')")
    if y.size:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"loss {name!r}{where}: labels range over [{lo}, {hi}] but the "
                             f"model outputs {num_classes} classes, so valid class indices are "
                             f"0..{num_classes - 1} (label {bad} is not one"
                             + ("; -1 does not mean the last class)" if bad < 0 else ")"))
    return y.astype(np.int64, copy=False)


def check_binary_labels(name, y, where=""):
    """Targets of a binary cross-entropy: integer labels must be 0 or 1, float targets
    probabilities in [0, 1] (soft labels, e.g. from Mixup or label smoothing)."""
    y = _host(y)
    if not y.size:
        return
    if y.dtype.kind in "iub":
        bad = y[(y != 0) & (y != 1)]
    else:
        bad = y[~((y >= 0) & (y <= 1))]
    if bad.size:
        raise ValueError(f"loss {name!r} expects labels 0 or 1 (or probabilities in [0, 1])"
                         f"{where}, but a label is {bad.reshape(-1)[0]!r}; for more than two "
                         "classes use 'sparse_categorical_crossentropy'")


def _from_logits_categorical(y_pred, y_true):
    """-sum_c y_c log softmax(z)_c, mean over samples (Keras's from_logits=True)."""
    _check_one_hot(y_pred, y_true)
    return -(_f().log_softmax(y_pred, dim=-1) * y_true).sum(-1).mean()


def _check_one_hot(y_pred, y_true):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"categorical_crossentropy: targets of shape {tuple(y_true.shape)} for predictions of "
            f"shape {tuple(y_pred.shape)}; it expects one-hot targets of the same shape "
            "(use ember.data.to_categorical, or loss='sparse_categorical_crossentropy' for "
            "class indices)")


def _from_logits_binary(y_pred, y_true):
    check_binary_labels("binary_crossentropy", y_true.data)
    y = y_true.reshape(y_pred.shape) if y_true.shape != y_pred.shape else y_true
    return _f().binary_cross_entropy_with_logits(y_pred, y.astype(y_pred.dtype))


def _from_logits_sparse(y_pred, y_true):
    """Keras's sparse cross-entropy from logits: classes on the LAST axis, so (B, T, C)
    per-step outputs go with (B, T) targets (PyTorch's ``cross_entropy`` wants them on dim 1)."""
    if y_pred.ndim > 2:
        y_pred, y_true = y_pred.reshape(-1, y_pred.shape[-1]), y_true.reshape(-1)
    return _f().cross_entropy(y_pred, y_true)


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

class Loss:
    """Keras's loss classes: ``loss = SparseCategoricalCrossentropy(from_logits=True)``, then
    ``loss(y_true, y_pred)`` (Keras's argument order) or ``compile(loss=loss)``. ``name`` is the
    Keras name the input checks of ``fit`` go by."""

    name = None

    def __init__(self, from_logits=False, name=None):
        self.from_logits = bool(from_logits)
        if name is not None:
            self.name = name

    def fn(self):
        """The ``f(y_pred, y_true)`` ember's training loop calls."""
        return _BY_NAME[self.name]

    def __call__(self, y_true, y_pred):
        return self.fn()(as_tensor(y_pred), as_tensor(y_true))

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class SparseCategoricalCrossentropy(Loss):
    """Class-index targets; probabilities, or logits with ``from_logits=True``."""
    name = "sparse_categorical_crossentropy"

    def fn(self):
        return _from_logits_sparse if self.from_logits else sparse_categorical_crossentropy


class CategoricalCrossentropy(Loss):
    """One-hot targets; probabilities, or logits with ``from_logits=True``."""
    name = "categorical_crossentropy"

    def fn(self):
        return _from_logits_categorical if self.from_logits else categorical_crossentropy


class BinaryCrossentropy(Loss):
    """0/1 targets; probabilities, or logits with ``from_logits=True`` (a stable
    sigmoid + log in one)."""
    name = "binary_crossentropy"

    def fn(self):
        return _from_logits_binary if self.from_logits else binary_crossentropy


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def __init__(self, name=None):
        super().__init__(False, name)


class MeanAbsoluteError(MeanSquaredError):
    name = "mean_absolute_error"


class Huber(MeanSquaredError):
    name = "huber"


class Hinge(MeanSquaredError):
    name = "hinge"


# losses whose targets are class indices / one-hot rows (checked before training starts)
SPARSE = {"sparse_categorical_crossentropy", "cross_entropy", "hinge", "multi_margin"}
ONE_HOT = {"categorical_crossentropy"}


def get(loss):
    """(name, callable) for a loss name, a Keras loss object (class or instance; it keeps its
    Keras name, ``takes_logits`` tells whether it wants logits) or a callable
    ``f(y_pred, y_true)``."""
    if isinstance(loss, type) and issubclass(loss, Loss):
        loss = loss()
    if isinstance(loss, Loss):
        return loss.name, loss.fn()
    if isinstance(loss, str):
        key = loss.lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown loss {loss!r}; known: {sorted(_BY_NAME)}, or pass a "
                             "callable f(y_pred, y_true)")
        return key, _BY_NAME[key]
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    raise TypeError(f"loss must be a name or a callable, got {loss!r}")


def takes_logits(loss, name):
    """True when the compiled loss expects logits (PyTorch-style names, from_logits=True)."""
    if isinstance(loss, Loss):
        return loss.from_logits
    return name not in PROBABILITY


# Keras losses that take probabilities (a softmax / sigmoid output)
PROBABILITY = {"sparse_categorical_crossentropy", "categorical_crossentropy",
               "binary_crossentropy"}


def as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))
