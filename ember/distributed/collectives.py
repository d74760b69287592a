"""Collectives on tensors (PyTorch's names and in-place semantics), run as non-blocking MPI
operations whose waits are bounded by the group's timeout.

Every call starts an ``MPI_I*`` operation and returns a :class:`Work`; with the default
``async_op=False`` it is waited on at once. A wait polls ``MPI_Test`` with a growing sleep
(so a rank that waits leaves the CPU to the others on an oversubscribed machine; at most
0.5 ms between polls) and, past
the timeout, aborts the job with a message naming the operation: a peer that died or hangs
never leaves the others spinning forever.
"""
import enum
import time
from typing import Optional

import numpy as np

from . import _mpi
from .errors import DistributedError
from .group import default_group


class ReduceOp(enum.Enum):
    """Reductions for :func:`all_reduce` (AVG: the sum divided by the world size)."""
    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


def _mpi_op(op):
    MPI = _mpi.load()
    op = ReduceOp(op.value if isinstance(op, ReduceOp) else op)
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op], op


def wait_request(req, group, what):
    """Wait for one MPI request within ``group.timeout``; abort the job past it."""
    if req.Test():
        return
    deadline = time.monotonic() + group.timeout
    pause, spins = 0.0, 0
    while not req.Test():
        if spins < 200:  # a short spin first: most collectives finish within microseconds
            spins += 1
            continue
        if time.monotonic() > deadline:
            group.abort(f"{what} did not complete within {group.timeout:g} s: another process "
                        "died or is stuck; ending the job (set the timeout with "
                        "init_process_group(timeout=...) or $EMBER_DIST_TIMEOUT)")
            raise DistributedError(f"{what} timed out")  # pragma: no cover - Abort exits
        pause = min(5e-4, pause * 2 or 1e-5)
        time.sleep(pause)


class Work:
    """A started collective (PyTorch's work handle): ``wait()`` blocks until it is done (at
    most the group timeout), ``is_completed()`` polls it."""

    def __init__(self, req, group, what, finish=None):
        self._req, self._group, self._what, self._finish = req, group, what, finish
        self._done = False

    def is_completed(self) -> bool:
        if not self._done and self._req.Test():
            self._complete()
        return self._done

    def wait(self, timeout=None) -> bool:
        if not self._done:
            wait_request(self._req, self._group, self._what)
            self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
            self._finish = None


def _array(tensor, what):
    data = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", None)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{what}: expected an ember Tensor (or NumPy array) on the CPU, got "
                        f"{type(tensor).__name__}")
    return data


def _buffer(data):
    """A contiguous array to communicate, and whether it must be copied back into ``data``."""
    if data.flags.c_contiguous:
        return data, False
    return np.ascontiguousarray(data), True


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group=None,
               async_op: bool = False) -> Optional[Work]:
    """Reduce ``tensor`` over all ranks, in place: every rank ends with the same result."""
    g = group or default_group()
    data = _array(tensor, "all_reduce")
    mop, op = _mpi_op(op)
    buf, copy_back = _buffer(data)
    MPI = _mpi.load()
    req = g.comm.Iallreduce(MPI.IN_PLACE, buf, op=mop)

    def finish():
        if op is ReduceOp.AVG:
            if buf.dtype.kind not in "fc":
                raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got "
                                f"{buf.dtype}")
            buf[...] /= g.size
        if copy_back:
            data[...] = buf

    return _run(Work(req, g, f"all_reduce({op.name}) of shape {data.shape}", finish), async_op)


def broadcast(tensor, src: int = 0, group=None, async_op: bool = False) -> Optional[Work]:
    """Copy ``tensor`` of rank ``src`` into ``tensor`` on every rank, in place."""
    g = group or default_group()
    if not 0 <= int(src) < g.size:
        raise ValueError(f"broadcast: src={src} is not a rank of a world of {g.size}")
    data = _array(tensor, "broadcast")
    buf, copy_back = _buffer(data)
    req = g.comm.Ibcast(buf, root=int(src))
    finish = (lambda: data.__setitem__(Ellipsis, buf)) if copy_back else None
    return _run(Work(req, g, f"broadcast from rank {src} of shape {data.shape}", finish),
                async_op)


def all_gather(tensor_list: list, tensor, group=None, async_op: bool = False) -> Optional[Work]:
    """Fill ``tensor_list[i]`` with rank i's ``tensor`` (one tensor per rank, all of the same
    shape and dtype)."""
    g = group or default_group()
    data = _array(tensor, "all_gather")
    if len(tensor_list) != g.size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, expected one "
                         f"per rank ({g.size})")
    outs = [_array(t, "all_gather") for t in tensor_list]
    for i, o in enumerate(outs):
        if o.shape != data.shape or o.dtype != data.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] is {o.dtype}{list(o.shape)} but the "
                             f"input tensor is {data.dtype}{list(data.shape)}")
    send = np.ascontiguousarray(data)
    recv = np.empty((g.size,) + data.shape, data.dtype)
    req = g.comm.Iallgather(send, recv)

    def finish():
        for o, r in zip(outs, recv):
            o[...] = r

    return _run(Work(req, g, f"all_gather of shape {data.shape}", finish), async_op)


def barrier(group=None, async_op: bool = False) -> Optional[Work]:
    """Wait until every rank of the group has reached this call."""
    g = group or default_group()
    return _run(Work(g.comm.Ibarrier(), g, "barrier"), async_op)


def all_gather_object(object_list: list, obj, group=None) -> None:
    """``object_list[i]`` = rank i's ``obj`` (any picklable value; for small bookkeeping such
    as metric states, never for tensors). A timed barrier first, so a missing peer is caught
    by the timeout before the blocking exchange."""
    g = group or default_group()
    if len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} entries, "
                         f"expected one per rank ({g.size})")
    barrier(g)
    object_list[:] = g.comm.allgather(obj)


def _run(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def allreduce_array(array, group=None):
    """Sum a NumPy array over the ranks (a new array; for rules that run on arrays)."""
    g = group or default_group()
    buf = np.ascontiguousarray(array).copy()
    MPI = _mpi.load()
    wait_request(g.comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM), g, "all_reduce")
    return buf


def allgather_array(array, group=None):
    """Stack every rank's ``array`` (same shape on all ranks): shape (world_size, *shape)."""
    g = group or default_group()
    send = np.ascontiguousarray(array)
    recv = np.empty((g.size,) + send.shape, send.dtype)
    wait_request(g.comm.Iallgather(send, recv), g, "all_gather")
    return recv
