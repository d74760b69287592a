"""DistributedSampler: each process of a data-parallel job reads its own shard of a dataset."""
import math

import numpy as np


class DistributedSampler:
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` reads (PyTorch's
    semantics): the order (a permutation drawn from ``seed + epoch`` when ``shuffle``) is
    padded by repeating its first indices to a multiple of ``num_replicas`` (or cut to one
    with ``drop_last``), and rank r takes every ``num_replicas``-th index from position r.
    So every rank has the same number of samples (the same number of steps) and the shards
    are disjoint apart from the padding. Call ``set_epoch(epoch)`` before each epoch to
    reshuffle. ``num_replicas`` / ``rank`` default to the process group's."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from .. import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: give num_replicas and rank, or call "
                                   "ember.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) \
                or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be an int >= 1, got "
                             f"{num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or \
                not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be an int in [0, {num_replicas - 1}]"
                             f", got {rank!r}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (all ranks must call it with the same value)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        return shard(order, self.rank, self.num_replicas, self.total_size)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples


def shard(order, rank, num_replicas, total_size=None):
    """Rank ``rank``'s part of ``order``: padded (repeating from the start) or cut to
    ``total_size`` (default: the next multiple of ``num_replicas``), then every
    ``num_replicas``-th element from position ``rank``."""
    order = np.asarray(order, np.int64)
    n = len(order)
    if total_size is None:
        total_size = math.ceil(n / num_replicas) * num_replicas
    if total_size > n:
        if n == 0:
            raise ValueError("DistributedSampler: the dataset is empty")
        order = np.concatenate([order] + [order] * ((total_size - n) // n) +
                               [order[:(total_size - n) % n]])
    return order[:total_size][rank:total_size:num_replicas]
