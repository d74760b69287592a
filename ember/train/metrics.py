"""Streaming metrics for ``Model.fit/evaluate`` (Keras names): accumulate over batches with
``update(y_pred, y_true)``, read with ``result()``, start over with ``reset()``.

Predictions are the model's outputs (logits or probabilities, shape (N, C) for classifiers);
targets are class indices (N,) or one-hot / probability rows (N, C).
"""
import numpy as np

from ..backend import to_host as _to_host  # metrics accumulate on the host


def _class_targets(y_true, n_classes):
    y = np.asarray(_to_host(y_true))
    if y.ndim >= 2 and y.shape[-1] == n_classes and n_classes > 1:
        return y.argmax(-1)
    return y.reshape(-1).astype(np.int64) if y.ndim > 1 else y.astype(np.int64, copy=False)


class Metric:
    name = "metric"

    def reset(self):
        raise NotImplementedError

    def update(self, y_pred, y_true):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError


class Accuracy(Metric):
    """Fraction of correct predictions. Multi-class outputs (N, C>1): argmax vs the target class
    (index or one-hot). Single outputs (N,) or (N, 1): ``pred > threshold`` vs the 0/1 target
    (``threshold`` 0.5 for probabilities; use 0.0 for logits)."""

    name = "accuracy"

    def __init__(self, threshold=0.5, name=None):
        self.threshold = threshold
        self.name = name or self.name
        self.reset()

    def reset(self):
        self.correct = 0
        self.total = 0

    def update(self, y_pred, y_true):
        p = np.asarray(_to_host(y_pred))
        if p.ndim >= 2 and p.shape[-1] > 1:
            pred = p.argmax(-1).reshape(-1)
            true = _class_targets(y_true, p.shape[-1]).reshape(-1)
        else:
            pred = (p.reshape(-1) > self.threshold).astype(np.int64)
            true = np.asarray(_to_host(y_true)).reshape(-1).round().astype(np.int64)
        self.correct += int((pred == true).sum())
        self.total += pred.size

    def result(self):
        return self.correct / self.total if self.total else 0.0


class SparseCategoricalAccuracy(Accuracy):
    name = "sparse_categorical_accuracy"


class CategoricalAccuracy(Accuracy):
    name = "categorical_accuracy"


class TopKAccuracy(Metric):
    """Fraction of samples whose target class is among the k highest scores."""

    def __init__(self, k=5, name=None):
        self.k = k
        self.name = name or f"top_{k}_accuracy"
        self.reset()

    def reset(self):
        self.correct = 0
        self.total = 0

    def update(self, y_pred, y_true):
        p = np.asarray(_to_host(y_pred))
        true = _class_targets(y_true, p.shape[-1])
        k = min(self.k, p.shape[-1])
        top = np.argpartition(-p, k - 1, axis=-1)[:, :k]
        self.correct += int((top == true[:, None]).any(1).sum())
        self.total += len(true)

    def result(self):
        return self.correct / self.total if self.total else 0.0


class _Confusion(Metric):
    """Accumulates a confusion matrix; subclasses read macro averages from it."""

    def __init__(self, num_classes=None, name=None):
        self.num_classes = num_classes
        self.name = name or self.name
        self.reset()

    def reset(self):
        self.cm = None if self.num_classes is None else np.zeros((self.num_classes,) * 2, np.int64)

    def update(self, y_pred, y_true):
        p = np.asarray(_to_host(y_pred))
        if p.ndim >= 2 and p.shape[-1] > 1:
            c = p.shape[-1]
            pred, true = p.argmax(-1), _class_targets(y_true, c)
        else:
            c = 2
            pred = (p.reshape(-1) > 0.5).astype(np.int64)
            true = np.asarray(_to_host(y_true)).reshape(-1).round().astype(np.int64)
        if self.cm is None:
            self.cm = np.zeros((c, c), np.int64)
        np.add.at(self.cm, (true, pred), 1)

    def _per_class(self):
        cm = self.cm if self.cm is not None else np.zeros((1, 1), np.int64)
        tp = np.diag(cm).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
            recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        return precision, recall


class Precision(_Confusion):
    """Macro-averaged precision: mean over classes of TP / (TP + FP)."""

    name = "precision"

    def result(self):
        return float(self._per_class()[0].mean())


class Recall(_Confusion):
    """Macro-averaged recall: mean over classes of TP / (TP + FN)."""

    name = "recall"

    def result(self):
        return float(self._per_class()[1].mean())


class F1Score(_Confusion):
    """Macro-averaged F1: mean over classes of 2 P R / (P + R)."""

    name = "f1_score"

    def result(self):
        p, r = self._per_class()
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
        return float(f1.mean())


class _MeanError(Metric):
    def __init__(self, name=None):
        self.name = name or self.name
        self.reset()

    def reset(self):
        self.sum = 0.0
        self.count = 0

    def update(self, y_pred, y_true):
        p = np.asarray(_to_host(y_pred), np.float64)
        t = np.asarray(_to_host(y_true), np.float64).reshape(p.shape)
        self.sum += float(self._err(p - t).sum())
        self.count += p.size

    def result(self):
        return self.sum / self.count if self.count else 0.0


class MeanAbsoluteError(_MeanError):
    name = "mae"

    @staticmethod
    def _err(d):
        return np.abs(d)


class MeanSquaredError(_MeanError):
    name = "mse"

    @staticmethod
    def _err(d):
        return d * d


class Perplexity(Metric):
    """exp(mean cross-entropy per predicted token): exp(-sum log p(target) / #targets) over
    everything seen since ``reset``. Outputs (..., C): logits (``from_logits=True``, the
    default) or probabilities; targets are class indices of the outputs' leading shape."""

    name = "perplexity"

    def __init__(self, from_logits=True, name=None):
        self.from_logits = bool(from_logits)
        self.name = name or self.name
        self.reset()

    def reset(self):
        self.nll = 0.0
        self.count = 0

    def update(self, y_pred, y_true):
        p = np.asarray(_to_host(y_pred), np.float64)
        p = p.reshape(-1, p.shape[-1])
        t = np.asarray(_to_host(y_true)).reshape(-1).astype(np.int64)
        if len(t) != len(p):
            raise ValueError(f"perplexity: {len(t)} targets for {len(p)} predictions of "
                             f"{p.shape[-1]} classes")
        picked = p[np.arange(len(t)), t]
        if self.from_logits:  # log softmax, stably
            m = p.max(1)
            logp = picked - m - np.log(np.exp(p - m[:, None]).sum(1))
        else:
            logp = np.log(np.clip(picked, 1e-7, 1.0))
        self.nll -= float(logp.sum())
        self.count += len(t)

    def result(self):
        return float(np.exp(self.nll / self.count)) if self.count else 0.0


_ALIASES = {
    "accuracy": Accuracy, "acc": Accuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "top_k_accuracy": TopKAccuracy, "top_5_accuracy": TopKAccuracy,
    "top_k_categorical_accuracy": TopKAccuracy,
    "sparse_top_k_categorical_accuracy": TopKAccuracy,
    "precision": Precision, "recall": Recall, "f1": F1Score, "f1_score": F1Score,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "perplexity": Perplexity,
}


def get(metric):
    """A Metric from a name ('accuracy', 'top_k_accuracy', 'precision', 'recall', 'f1', 'mae',
    'mse', ...), a Metric instance, or a function ``f(y_pred, y_true) -> float`` (averaged over
    batches, weighted by batch size)."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        key = metric.lower()
        if key not in _ALIASES:
            raise ValueError(f"unknown metric {metric!r}; known: {sorted(_ALIASES)}")
        m = _ALIASES[key]()
        m.name = metric  # logged under the name the user gave, as Keras ('acc' stays 'acc')
        return m
    if isinstance(metric, type) and issubclass(metric, Metric):
        return metric()
    if callable(metric):
        return FunctionMetric(metric)
    raise TypeError(f"metric must be a name, a Metric or a callable, got {metric!r}")


class FunctionMetric(Metric):
    """Wraps ``f(y_pred, y_true) -> float``; the result is the size-weighted batch average."""

    def __init__(self, fn, name=None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        self.reset()

    def reset(self):
        self.sum = 0.0
        self.count = 0

    def update(self, y_pred, y_true):
        n = len(y_pred)
        self.sum += float(self.fn(y_pred, y_true)) * n
        self.count += n

    def result(self):
        return self.sum / self.count if self.count else 0.0
