"""The offline sequence tasks as arrays, shared by the example scripts and ``ember train``:

- ``language_id_task``: words of the Debian word lists -> language (character ids, 0 = padding);
- ``char_lm_task``: the King James Bible as (window, next characters) pairs;
- ``forecast_task``: a vega-datasets series as (last ``history`` values, next ``horizon``).

Each returns a :class:`SequenceTask`: train/test arrays, the sizes a model needs
(``vocab_size``, ``num_classes``, ...), and trivial baselines measured on the same test split, so
a trained model's held-out figure can be read next to them. Missing data raises
``DatasetNotFoundError`` naming the Debian package to install.
"""
from dataclasses import dataclass, field

import numpy as np

from .text import Vocab
from .text.corpora import DICT_DIR, language_id_split, load_kjv
from .datasets.vega import load_vega_series


@dataclass
class SequenceTask:
    """Arrays of one task. ``kind``: 'classification' (y: class per sample), 'language_model'
    (y: next token per step) or 'regression' (y: float targets, standardised; multiply errors
    by ``target_scale`` for ``units``). ``baselines``: held-out figure of trivial predictors
    (accuracy, perplexity or MAE in ``units``)."""
    name: str
    kind: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sizes: dict
    baselines: dict = field(default_factory=dict)
    target_scale: float = 1.0
    units: str = ""
    extra: dict = field(default_factory=dict)


# ---- language identification of words --------------------------------------------------------
def encode_words(words, vocab, width=None):
    """Words -> (N, width) character ids (0 = padding, at the end) and their lengths;
    ``width`` defaults to the longest word."""
    lens = np.array([len(w) for w in words])
    x = np.zeros((len(words), width or int(lens.max())), np.int64)
    for i, w in enumerate(words):
        x[i, :len(w)] = vocab.encode(w)
    return x, lens


def bag_of_chars(x, n_chars):
    """Character frequencies per word (padding id 0 excluded): an order-free representation."""
    counts = np.zeros((len(x), n_chars), np.float32)
    rows = np.repeat(np.arange(len(x)), x.shape[1])
    np.add.at(counts, (rows, x.reshape(-1)), 1.0)
    counts[:, 0] = 0
    return counts / np.maximum(counts.sum(1, keepdims=True), 1)


def char_naive_bayes_accuracy(xtr, ytr, xte, yte, n_chars, n_classes):
    """Multinomial naive Bayes over a word's characters (add-one smoothing): log p(y) +
    sum_c log p(c | y). An order-free baseline that needs no training loop."""
    counts = np.ones((n_classes, n_chars))
    for k in range(n_classes):
        ids = xtr[ytr == k].reshape(-1)
        counts[k] += np.bincount(ids[ids != 0], minlength=n_chars)
    counts[:, 0] = 0
    logp = np.log(counts / counts.sum(1, keepdims=True) + 1e-300)
    prior = np.log(np.bincount(ytr, minlength=n_classes) / len(ytr))
    score = prior + np.stack([logp[:, row[row != 0]].sum(1) for row in xte])
    return float((score.argmax(1) == yte).mean())


def language_id_task(languages=None, train_per_language: int = 2000,
                     test_per_language: int = 500, min_len: int = 3, max_len: int = 16,
                     seed: int = 0, root: str = DICT_DIR, shuffle: bool = False) -> SequenceTask:
    """Held-out split by word (``ember.data.text.corpora.language_id_split``); inputs are
    (N, max_len) character ids padded with 0 (vocabulary of the training words, 1 = unknown).
    The training words come grouped by language; ``shuffle`` mixes them (seeded), so that a
    ``validation_split`` slice of the last samples holds every language."""
    (wtr, ytr), (wte, yte), langs = language_id_split(
        languages, train_per_language, test_per_language, seed, root,
        min_len=min_len, max_len=max_len)
    vocab = Vocab([c for w in wtr for c in w], pad_token="<pad>", oov_token="<unk>")
    xtr, ltr = encode_words(wtr, vocab, max_len)
    xte, lte = encode_words(wte, vocab, max_len)
    ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
    if shuffle:
        order = np.random.default_rng(seed + 1).permutation(len(ytr))
        xtr, ltr, ytr = xtr[order], ltr[order], ytr[order]
        wtr = [wtr[i] for i in order]
    n_classes = len(langs)
    majority = int(np.bincount(ytr, minlength=n_classes).argmax())
    baselines = {"majority class": float((yte == majority).mean()),
                 "bag-of-characters naive Bayes":
                     char_naive_bayes_accuracy(xtr, ytr, xte, yte, len(vocab), n_classes)}
    return SequenceTask("language_id", "classification", xtr, ytr, xte, yte,
                        {"vocab_size": len(vocab), "num_classes": n_classes,
                         "max_len": max_len}, baselines,
                        extra={"vocab": vocab, "languages": langs, "train_lengths": ltr,
                               "test_lengths": lte, "train_words": wtr, "test_words": wte})


# ---- character language model on the King James Bible ------------------------------------------
def split_text(text, val_fraction=0.1):
    """Train / validation split at a verse boundary (the last verses are held out)."""
    cut = text.rfind("\n", 0, int(len(text) * (1 - val_fraction))) + 1
    return text[:cut], text[cut:]


def unigram_perplexity(train_ids, val_ids, n):
    """exp(-mean log p(c)) with add-one smoothed character frequencies of the training text."""
    p = (np.bincount(train_ids, minlength=n) + 1.0) / (len(train_ids) + n)
    return float(np.exp(-np.mean(np.log(p[val_ids]))))


def char_windows(ids, starts, seq_len):
    """Inputs ids[s:s+seq_len] and targets ids[s+1:s+seq_len+1] for each start s."""
    idx = np.asarray(starts)[:, None] + np.arange(seq_len + 1)
    w = ids[idx]
    return w[:, :-1], w[:, 1:]


def consecutive_starts(n_ids, seq_len, max_chars=None):
    """Starts of back-to-back windows covering the first ``max_chars`` ids (all by default)."""
    n = n_ids - 1 if max_chars is None else min(n_ids - 1, max_chars)
    return np.arange(0, n - seq_len, seq_len)


def kjv_ids(val_fraction=0.1, text=None):
    """(vocab, train ids, validation ids) of the Bible split at a verse boundary; the vocabulary
    (no padding, 0 = unknown) comes from the training text."""
    train_text, val_text = split_text(load_kjv() if text is None else text, val_fraction)
    vocab = Vocab(train_text, pad_token=None, oov_token="<unk>")
    return (vocab, np.array(vocab.encode(train_text), np.int64),
            np.array(vocab.encode(val_text), np.int64))


def char_lm_task(seq_len: int = 100, train_windows: int = 20000, val_fraction: float = 0.1,
                 val_chars=None, seed: int = 0, text=None) -> SequenceTask:
    """``train_windows`` random windows of the training text (seeded) and back-to-back windows
    of the held-out text (its first ``val_chars`` characters when given); the targets are the
    inputs shifted by one. Baseline: the unigram character model's perplexity on the same
    held-out targets."""
    vocab, tr, va = kjv_ids(val_fraction, text)
    rng = np.random.default_rng(seed)
    xtr, ytr = char_windows(tr, rng.integers(0, len(tr) - seq_len - 1, train_windows), seq_len)
    starts = consecutive_starts(len(va), seq_len, val_chars)
    if not len(starts):
        raise ValueError(f"char_lm_task: val_chars={val_chars} leaves no held-out window of "
                         f"{seq_len} characters")
    xte, yte = char_windows(va, starts, seq_len)
    return SequenceTask("char_lm", "language_model", xtr, ytr, xte, yte,
                        {"vocab_size": len(vocab), "seq_len": seq_len},
                        {"unigram character model":
                            unigram_perplexity(tr, yte.reshape(-1), len(vocab))},
                        extra={"vocab": vocab, "train_ids": tr, "val_ids": va})


# ---- forecasting a vega-datasets series ---------------------------------------------------------
def make_windows(series, start, stop, history, horizon, stride=1):
    """Inputs (N, history, 1) and targets (N, horizon) whose windows lie in [start, stop)."""
    ends = np.arange(start + history, stop - horizon + 1, stride)
    x = np.stack([series[e - history:e] for e in ends])[:, :, None]
    y = np.stack([series[e:e + horizon] for e in ends])
    return x.astype(np.float32), y.astype(np.float32)


def naive_errors(x, y, scale=1.0):
    """MAE (times ``scale``) of the 'last value repeated' and 'mean of the window' forecasts."""
    last = np.abs(x[:, -1:, 0] - y).mean() * scale
    mean = np.abs(x[:, :, 0].mean(1, keepdims=True) - y).mean() * scale
    return float(last), float(mean)


def forecast_task(file: str = "seattle-weather.csv", column: str = "temp_max",
                  history: int = 30, horizon: int = 7, test_from: str = "2015",
                  stride: int = 1, units: str = "", root=None) -> SequenceTask:
    """Chronological split: the samples before the first date starting with ``test_from``
    train, the rest test (test windows may look back into training days, never forward).
    Values are standardised with the training part's mean and std (``target_scale`` = std)."""
    dates, values = load_vega_series(file, column, root)
    hits = np.flatnonzero(np.char.startswith(dates.astype(str), str(test_from)))
    if not len(hits) or hits[0] < history + horizon:
        raise ValueError(f"forecast_task: no usable split at test_from={test_from!r} in {file} "
                         f"(dates {dates[0]} .. {dates[-1]}; the training part needs at least "
                         f"history + horizon = {history + horizon} values)")
    split = int(hits[0])
    mean, std = values[:split].mean(), values[:split].std()
    z = (values - mean) / std
    xtr, ytr = make_windows(z, 0, split, history, horizon, stride)
    xte, yte = make_windows(z, split - history, len(z), history, horizon, 1)
    if not len(xte):
        raise ValueError(f"forecast_task: the test part from {test_from!r} is shorter than "
                         f"horizon = {horizon}")
    last, window = naive_errors(xte, yte, std)
    return SequenceTask("forecast", "regression", xtr, ytr, xte, yte,
                        {"history": history, "horizon": horizon},
                        {"last value repeated": last, f"mean of the last {history}": window},
                        target_scale=float(std), units=units,
                        extra={"mean": float(mean), "dates": dates, "split": split})
