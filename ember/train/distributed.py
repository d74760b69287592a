"""``Model.fit`` / ``evaluate`` on the processes of an MPI job (data parallel).

What changes when ``fit(distributed=True)`` (or under ``mpirun -n N`` with N > 1):

* each epoch's order is drawn from ember's generator exactly as one process draws it,
  broadcast from rank 0, padded to a multiple of N and split rank r <- positions r, r+N, ...
  (:func:`ember.data.distributed.shard`), so N processes x ``batch_size`` see the same global
  batches as one process with N x ``batch_size`` (``batch_size`` is per process);
* the model is wrapped in ``DistributedDataParallel`` before the first step (rank 0's weights
  are broadcast) and gradients are averaged during backward;
* a stop request (EarlyStopping, TerminateOnNaN, the doctor) on any rank stops all ranks at
  the same step (one tiny all-reduce per step), so no rank waits for a missing collective;
* epoch logs (loss, metrics) and every evaluation are aggregated over all ranks (sums of
  loss x count and of the metrics' counters), and rank 0's buffers (batch-norm running
  statistics) are broadcast before evaluation, so every rank reports the same numbers;
* only rank 0 prints progress and runs the callbacks that write files (ModelCheckpoint,
  CSVLogger, TensorBoard, the doctor, and any callback with ``rank_zero_only = True``);
* an exception on one rank prints it with the rank and ends the job (MPI_Abort) instead of
  leaving the other ranks waiting.
"""
import copy
import math

import numpy as np

from .. import distributed as dist
from ..distributed import _mpi
from ..distributed.collectives import allreduce_array, broadcast
from ..distributed.group import default_group

# the counters the built-in metrics accumulate (sums over samples: they add across ranks)
_METRIC_STATE = ("correct", "total", "cm", "sum", "count")


def wanted(distributed) -> bool:
    """``distributed`` as given, or (None) whether mpirun started more than one process."""
    if distributed is None:
        return _mpi.launched_world_size() > 1
    return bool(distributed)


def fit_context(model, distributed, jit):
    """A :class:`FitContext` when this fit runs data-parallel, else None."""
    if not wanted(distributed):
        return None
    if jit:
        raise ValueError("fit: jit=True cannot be combined with distributed training yet (the "
                         "compiled step bypasses the backward hooks that average gradients)")
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    return FitContext(model)


def eval_group():
    """The process group evaluation aggregates over, or None (one process)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        return default_group()
    return None


class _EpochShard:
    """This rank's indices for one epoch (a DataLoader ``sampler``): the order one process
    would draw (ember's generator, at the same point of the stream), rank 0's broadcast."""

    def __init__(self, n, shuffle, group):
        self.n, self.shuffle, self.group = n, shuffle, group

    def __len__(self):
        return math.ceil(self.n / self.group.size)

    def __iter__(self):
        from ..data._rng import current_generator
        from ..data.distributed import shard
        order = current_generator().permutation(self.n) if self.shuffle else np.arange(self.n)
        order = np.ascontiguousarray(order, np.int64)
        broadcast(order, 0, self.group)
        return iter(shard(order, self.group.rank, self.group.size).tolist())


class _EvalShard:
    """Positions rank, rank + N, ... of a dataset (no padding: each sample counted once)."""

    def __init__(self, n, group):
        self.idx = np.arange(group.rank, n, group.size)

    def __len__(self):
        return len(self.idx)

    def __iter__(self):
        return iter(self.idx.tolist())


def _is_rank_zero_only(cb):
    from .callbacks import CSVLogger, ModelCheckpoint
    from .tensorboard import TensorBoard
    return (getattr(cb, "rank_zero_only", False) or hasattr(cb, "doctor") or
            isinstance(cb, (CSVLogger, ModelCheckpoint, TensorBoard)))


class FitContext:
    """The per-fit state of data-parallel training (see the module docstring)."""

    def __init__(self, model):
        self.model = model
        self.group = default_group()
        self.rank, self.world = self.group.rank, self.group.size
        self.ddp = None

    @property
    def main(self):
        return self.rank == 0

    def verbose(self, verbose):
        return verbose if self.main else 0

    def callbacks(self, callbacks):
        cbs = list(callbacks or [])
        return cbs if self.main else [cb for cb in cbs if not _is_rank_zero_only(cb)]

    def train_loader(self, data, batch_size, shuffle, epoch):
        from ..data import DataLoader, DistributedSampler
        if isinstance(data, DataLoader):
            if not isinstance(data.sampler, DistributedSampler):
                raise ValueError("fit(distributed): a DataLoader must read this rank's shard: "
                                 "build it with sampler=ember.data.DistributedSampler(dataset)"
                                 ", or pass arrays or a Dataset and fit shards them")
            data.sampler.set_epoch(epoch)
            return self.model._loader(data, batch_size, False)
        sampler = _EpochShard(len(data), shuffle, self.group)
        return self.model._loader(data, batch_size, False, sampler=sampler)

    def before_step(self):
        if self.ddp is None and self.world > 1:
            from ..nn.parallel import DistributedDataParallel
            self.ddp = DistributedDataParallel(self.model, broadcast_buffers=False,
                                               process_group=self.group)

    def any(self, flag) -> bool:
        """True on every rank when ``flag`` is true on any."""
        if self.world == 1:
            return bool(flag)
        return bool(allreduce_array(np.array([1 if flag else 0], np.int32), self.group)[0])

    def epoch_logs(self, total, count, metrics):
        """The epoch's loss and metrics over all ranks."""
        loss, _ = reduce_loss(total, count, self.group)
        logs = {"loss": loss}
        logs.update({m.name: m.result() for m in reduce_metrics(metrics, self.group)})
        if self.ddp is not None:
            self.ddp.sync_buffers()  # every rank evaluates and saves rank 0's statistics
        return logs

    def close(self):
        if self.ddp is not None:
            self.ddp.remove_hooks()
            self.ddp = None

    def fail(self, exc):
        """An exception on this rank: the others may be waiting in a collective; end the job."""
        if self.world > 1:
            import traceback
            traceback.print_exception(type(exc), exc, exc.__traceback__)
            self.group.abort(f"fit failed with {type(exc).__name__}: {exc}")


def eval_loader(model, data, batch_size, group):
    """This rank's part of an evaluation set (a Dataset), or the loader itself when the user
    gave a DataLoader (then every rank evaluates what it reads)."""
    from ..data import DataLoader, DistributedSampler
    if isinstance(data, DataLoader):
        return model._loader(data, batch_size, False), isinstance(data.sampler,
                                                                  DistributedSampler)
    return model._loader(data, batch_size, False, sampler=_EvalShard(len(data), group)), True


def reduce_loss(total, count, group):
    s = allreduce_array(np.array([total, count], np.float64), group)
    return float(s[0] / max(s[1], 1)), int(s[1])


def reduce_metrics(metrics, group):
    """Copies of ``metrics`` holding the counters of all ranks (a metric without the usual
    counters keeps this rank's value)."""
    states = [{k: getattr(m, k) for k in _METRIC_STATE if k in vars(m)} for m in metrics]
    everyone = [None] * group.size
    dist.all_gather_object(everyone, states, group)
    merged = []
    for i, m in enumerate(metrics):
        c = copy.copy(m)
        for k in states[i]:
            vals = [s[i][k] for s in everyone if s[i][k] is not None]
            total = None
            for v in vals:
                total = v if total is None else total + v
            setattr(c, k, total)
        merged.append(c)
    return merged
