"""The process group: which MPI processes train together, and this process's place in it.

``init_process_group(backend="mpi")`` reads rank and world size from MPI (started by
``mpirun -n N``; a plain ``python`` process is a world of one). ember duplicates
``COMM_WORLD``, so its collectives never match messages of other MPI code in the process.
"""
import datetime
import os
import sys

from . import _mpi
from .errors import DistributedError

DEFAULT_TIMEOUT = 1800.0  # seconds, as PyTorch's default process-group timeout


class ProcessGroup:
    """An MPI communicator with its rank, size and collective timeout (seconds)."""

    def __init__(self, comm, timeout):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = float(timeout)

    def __repr__(self):
        return f"ProcessGroup(rank={self.rank}, size={self.size}, backend='mpi')"

    def abort(self, message, code=1):
        """Print ``message`` naming this rank, then end every process of the job (MPI_Abort):
        the peers may be blocked in a collective that can never complete."""
        sys.stderr.write(f"ember.distributed: rank {self.rank} of {self.size}: {message}\n")
        sys.stderr.flush()
        self.comm.Abort(code)


_group = None
_excepthook = None


def _seconds(timeout):
    if timeout is None:
        env = os.environ.get("EMBER_DIST_TIMEOUT")
        return float(env) if env else DEFAULT_TIMEOUT
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    t = float(timeout)
    if not t > 0:
        raise ValueError(f"init_process_group: timeout must be > 0 seconds, got {timeout!r}")
    return t


def init_process_group(backend: str = "mpi", timeout=None, **kwargs) -> ProcessGroup:
    """Join the default process group (PyTorch's name). ``backend`` must be ``"mpi"``;
    rank and world size come from the MPI launcher, so ``init_method``, ``rank`` and
    ``world_size`` are accepted only when they agree with it. ``timeout`` (seconds or a
    ``timedelta``; default ``$EMBER_DIST_TIMEOUT`` or 1800 s) bounds every collective: a peer
    that does not take part in time ends the job with an error instead of a hang."""
    global _group
    if backend not in ("mpi", None):
        raise ValueError(f"init_process_group: backend {backend!r} is not available; ember "
                         "runs data-parallel training on MPI (backend='mpi')")
    if _group is not None:
        raise DistributedError("init_process_group: the default process group is already "
                               "initialized (call destroy_process_group() first)")
    MPI = _mpi.load()
    group = ProcessGroup(MPI.COMM_WORLD.Dup(), _seconds(timeout))
    for key in ("rank", "world_size"):
        want = kwargs.pop(key, None)
        have = group.rank if key == "rank" else group.size
        if want is not None and want not in (-1, have):
            raise ValueError(f"init_process_group: {key}={want} but MPI started this process "
                             f"with {key} {have} (rank and world size come from mpirun)")
    kwargs.pop("init_method", None)
    if kwargs:
        raise TypeError(f"init_process_group: unexpected arguments {sorted(kwargs)}")
    _group = group
    if group.size > 1:
        _install_excepthook()
    return group


def _install_excepthook():
    """An uncaught exception on one rank ends the whole job (after printing it), instead of
    leaving the others waiting in a collective until the timeout."""
    global _excepthook
    if _excepthook is not None:
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        g = _group
        if g is not None and g.size > 1:
            g.abort(f"uncaught {kind.__name__}: ending the job")

    _excepthook = hook
    sys.excepthook = hook


def destroy_process_group(group=None) -> None:
    """Leave the default process group (MPI itself stays initialised until the process exits;
    a new ``init_process_group`` may follow)."""
    global _group
    if _group is None:
        return
    g, _group = _group, None
    try:
        g.comm.Free()
    except Exception:  # pragma: no cover - freeing after an MPI error
        pass


def is_available() -> bool:
    """True when the MPI backend can be used (mpi4py importable)."""
    return _mpi.available()


def is_initialized() -> bool:
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _group is not None


def default_group() -> ProcessGroup:
    if _group is None:
        raise DistributedError("the default process group is not initialized: call "
                               "ember.distributed.init_process_group(backend='mpi') first "
                               "(and start the script with mpirun -n N)")
    return _group


def get_rank(group=None) -> int:
    """This process's rank in the group (0 .. world_size - 1)."""
    return (group or default_group()).rank


def get_world_size(group=None) -> int:
    """The number of processes in the group."""
    return (group or default_group()).size


def is_main_process() -> bool:
    """True on rank 0, and in a process that is not part of a group (writes logs, files)."""
    return _group is None or _group.rank == 0
