"""DistributedDataParallel: average gradients over the processes of an MPI job, overlapping
the communication with the rest of backward.

At construction rank 0's parameters and buffers are broadcast, so every replica starts equal.
Parameters are grouped into buckets in reverse order (the order backward reaches them), about
``bucket_cap_mb`` each (the first one 1 MB, so communication starts early). A post-accumulate
hook on each parameter counts the bucket's finished gradients; when a bucket is complete its
gradients are copied into one flat buffer and a non-blocking all-reduce (``MPI_Iallreduce``)
starts while backward goes on with earlier layers. Buckets start strictly in bucket order, so
every rank issues the same collectives in the same order even if its graph differs. When the
backward walk ends (a callback queued in the autograd engine) the remaining buckets start,
every request is waited on (bounded by the group timeout) and the sums are divided by the world
size and written back into ``.grad``. A parameter that got no gradient on a rank contributes
zeros; it gets the averaged gradient afterwards, so all replicas stay equal.
"""
import contextlib

import numpy as np

from ...autograd import no_grad
from ...autograd.engine import queue_callback
from ...distributed import collectives as _coll
from ...distributed.group import default_group
from ...tensor import Tensor
from ..module import Module

_FIRST_BUCKET_BYTES = 1 << 20


class _Bucket:
    __slots__ = ("params", "offsets", "buffer", "pending", "ready", "request")

    def __init__(self, params):
        self.params = params
        sizes = [p.data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.buffer = np.empty(int(self.offsets[-1]), params[0].data.dtype)
        self.reset()

    def reset(self):
        self.pending = len(self.params)
        self.ready = set()
        self.request = None


class DistributedDataParallel(Module):
    """Data-parallel training of ``module`` (PyTorch's ``torch.nn.parallel`` name).

    Example (every rank runs the same script, ``mpirun -n 2 python train.py``)::

        dist.init_process_group("mpi")
        model = DistributedDataParallel(net)
        sampler = ember.data.DistributedSampler(dataset)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            for x, y in ember.data.DataLoader(dataset, batch_size=64, sampler=sampler):
                loss = loss_fn(model(x), y)
                opt.zero_grad(); loss.backward(); opt.step()   # grads are averaged in backward

    ``forward`` delegates to ``module`` (after broadcasting rank 0's buffers, e.g. batch-norm
    running statistics, when ``broadcast_buffers``). ``model.module`` is the wrapped module;
    ``state_dict()`` keys carry the ``module.`` prefix, as PyTorch's (save
    ``model.module.state_dict()`` for a checkpoint that loads into the bare module).
    ``no_sync()`` skips the averaging (gradients accumulate locally; the next synced backward
    averages the accumulated ``.grad``).
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25, broadcast_buffers: bool = True,
                 process_group=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an ember.nn.Module, got "
                            f"{type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got "
                             f"{bucket_cap_mb!r}")
        self.module = module
        self.__dict__.update(process_group=process_group or default_group(),
                             bucket_cap_mb=bucket_cap_mb, broadcast_buffers=broadcast_buffers,
                             require_backward_grad_sync=True, _in_backward=False, _handles=[])
        self._sync_module_states()
        params, seen = [], set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        self.__dict__["_buckets"] = self._make_buckets(params)
        where = {}
        for b, bucket in enumerate(self._buckets):
            for i, p in enumerate(bucket.params):
                where[id(p)] = (b, i)
        self.__dict__["_where"] = where
        if self.process_group.size > 1:
            for p in params:
                self._handles.append(p.register_post_accumulate_grad_hook(self._grad_ready))

    # ---- setup -------------------------------------------------------------------------
    def _make_buckets(self, params):
        """Reverse parameter order, one dtype per bucket, ~bucket_cap_mb each."""
        cap = int(self.bucket_cap_mb * (1 << 20))
        buckets, current, size = [], [], 0
        limit = min(_FIRST_BUCKET_BYTES, cap)
        for p in reversed(params):
            if current and (size >= limit or p.data.dtype != current[0].data.dtype):
                buckets.append(_Bucket(current))
                current, size, limit = [], 0, cap
            current.append(p)
            size += p.data.nbytes
        if current:
            buckets.append(_Bucket(current))
        return buckets

    def _sync_module_states(self):
        """Rank 0's parameters and buffers to every rank (in place: optimizers keep theirs)."""
        if self.process_group.size == 1:
            return
        with no_grad():
            tensors = list(self.module.parameters()) + \
                [b for b in self.module.buffers() if b is not None]
            works = [_coll.broadcast(t, 0, self.process_group, async_op=True) for t in tensors]
            for w in works:
                w.wait()

    def sync_buffers(self):
        """Broadcast rank 0's buffers (batch-norm running statistics) to every rank."""
        if self.process_group.size == 1:
            return
        works = [_coll.broadcast(b, 0, self.process_group, async_op=True)
                 for b in self.module.buffers() if b is not None]
        for w in works:
            w.wait()

    def forward(self, *args, **kwargs):
        if self.broadcast_buffers and self.module.training:
            self.sync_buffers()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients locally without communicating."""
        old = self.require_backward_grad_sync
        self.__dict__["require_backward_grad_sync"] = False
        try:
            yield
        finally:
            self.__dict__["require_backward_grad_sync"] = old

    def remove_hooks(self):
        """Stop averaging gradients (the wrapper is done with; e.g. at the end of ``fit``)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    # ---- the reducer -------------------------------------------------------------------
    def _grad_ready(self, p):
        if not self.require_backward_grad_sync:
            return
        if not self._in_backward:
            self.__dict__["_in_backward"] = True
            self.__dict__["_next"] = 0
            for b in self._buckets:
                b.reset()
            queue_callback(self._finish)
        b, i = self._where[id(p)]
        bucket = self._buckets[b]
        if i not in bucket.ready:
            bucket.ready.add(i)
            bucket.pending -= 1
        self._launch_ready()
        self._progress()

    def _launch_ready(self, force=False):
        """Start the all-reduce of every complete bucket, in bucket order."""
        buckets = self._buckets
        k = self._next
        while k < len(buckets) and (force or buckets[k].pending == 0):
            self._launch(buckets[k])
            k += 1
        self.__dict__["_next"] = k

    def _launch(self, bucket):
        buf, off = bucket.buffer, bucket.offsets
        for i, p in enumerate(bucket.params):
            if p.grad is None:
                buf[off[i]:off[i + 1]] = 0
            else:
                buf[off[i]:off[i + 1]] = p.grad.data.reshape(-1)
        MPI = _coll._mpi.load()
        bucket.request = self.process_group.comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)

    def _progress(self):
        """Let MPI move the started reductions along (Open MPI progresses non-blocking
        collectives only inside MPI calls; one Test per started request is enough)."""
        for k in range(self._next):
            req = self._buckets[k].request
            if req is not None:
                req.Test()

    def _finish(self):
        """End of backward: start what is left, wait for everything, average, write back."""
        self.__dict__["_in_backward"] = False
        self._launch_ready(force=True)
        world = self.process_group.size
        for n, bucket in enumerate(self._buckets):
            _coll.wait_request(bucket.request, self.process_group,
                               f"DistributedDataParallel all_reduce of gradient bucket {n}")
            buf, off = bucket.buffer, bucket.offsets
            buf /= world
            for i, p in enumerate(bucket.params):
                avg = buf[off[i]:off[i + 1]].reshape(p.data.shape)
                if p.grad is None:
                    p.grad = Tensor(avg.copy())
                else:
                    p.grad.data[...] = avg
            bucket.request = None
