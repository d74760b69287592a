"""DataLoader: batches of ember Tensors from a Dataset."""
import math

import numpy as np

from ember import random as _ember_random

from ._rng import current_generator
from .collate import default_collate
from .dataset import _apply_batched
from .prefetch import PrefetchIterator


def _to_tensor(x):
    try:
        from ember.tensor import Tensor
    except ImportError as exc:  # pragma: no cover - only while ember.tensor is missing
        raise ImportError("DataLoader yields ember Tensors but ember.tensor is not importable; "
                          "pass as_numpy=True to get NumPy arrays") from exc
    return Tensor(x)


def _finalize(x, as_numpy):
    """Labels (1-D integer arrays) -> int64; arrays -> Tensors; structure preserved."""
    if isinstance(x, tuple) or isinstance(x, list):
        return tuple(_finalize(v, as_numpy) for v in x)
    if isinstance(x, dict):
        return {k: _finalize(v, as_numpy) for k, v in x.items()}
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(x, np.ndarray):
        x = data
    x = np.asarray(x)
    if x.ndim == 1 and x.dtype.kind in "iu" and x.dtype != np.int64:
        x = x.astype(np.int64)
    return x if as_numpy else _to_tensor(x)


class DataLoader:
    """Iterate a dataset in (optionally shuffled) batches.

    Each batch is a tuple of ember Tensors (one per sample field; integer label vectors
    are int64). Datasets with ``get_batch(indices)`` are batched by fancy indexing;
    others sample by sample through ``collate_fn`` (default: stacking). ``transform`` is
    applied to the first field of every batch (batch-wise when it supports it);
    ``batch_transform`` to the whole batch tuple (e.g. ``Mixup``: ``(x, y) -> (x', y')``).
    Shuffling draws from ember's global generator (or ``generator``), so it repeats
    under ``ember.manual_seed``. ``sampler`` (an iterable of dataset indices with ``len``,
    e.g. ``DistributedSampler``; exclusive with ``shuffle``) chooses the order instead.
    With ``num_workers > 0`` batches are prepared ahead in
    background threads, in order, each worker with its own forked generator.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 num_workers=0, transform=None, prefetch_factor=2, generator=None, as_numpy=False,
                 batch_transform=None, sampler=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
                batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")
        if prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be >= 1, got {prefetch_factor}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive (the "
                             "sampler decides the order; DistributedSampler shuffles itself)")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.num_workers = int(num_workers)
        self.transform = transform
        self.prefetch_factor = int(prefetch_factor)
        self.generator = generator
        self.as_numpy = bool(as_numpy)
        self.batch_transform = batch_transform

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _batch_indices(self):
        if self.sampler is not None:
            order = np.fromiter((int(i) for i in self.sampler), np.int64)
            n = len(order)
            stop = n // self.batch_size * self.batch_size if self.drop_last else n
            return [order[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]
        n = len(self.dataset)
        order = current_generator(self.generator).permutation(n) if self.shuffle else np.arange(n)
        stop = len(self) * self.batch_size
        return [order[i:i + self.batch_size] for i in range(0, min(stop, n), self.batch_size)]

    def _fetch(self, indices):
        """Build one batch (NumPy, transforms applied); runs in workers when num_workers > 0."""
        get_batch = getattr(self.dataset, "get_batch", None)
        if self.collate_fn is None and get_batch is not None:
            batch = get_batch(indices)
        else:
            collate = self.collate_fn or default_collate
            batch = collate([self.dataset[int(i)] for i in indices])
        if self.transform is not None:
            if isinstance(batch, tuple):
                batch = (_apply_batched(self.transform, np.asarray(batch[0])),) + tuple(batch[1:])
            else:
                batch = _apply_batched(self.transform, np.asarray(batch))
        if self.batch_transform is not None:
            # whole-batch transforms that need the targets too, e.g. Mixup: (x, y) -> (x', y')
            batch = tuple(self.batch_transform(*batch))
        return batch

    def _finish(self, batch):
        return _finalize(batch, self.as_numpy)

    def __iter__(self):
        batches = self._batch_indices()
        if self.num_workers == 0:
            return (self._finish(self._fetch(b)) for b in batches)
        # fork in the main thread, in worker order, so streams repeat under manual_seed
        generators = [_ember_random.fork_generator() if self.generator is None
                      else np.random.default_rng(self.generator.integers(0, 2**63 - 1))
                      for _ in range(self.num_workers)]
        return PrefetchIterator(self._fetch, batches, generators, self._finish, self.prefetch_factor)
