"""Loading mpi4py lazily, with a message that says what to install when it is missing.

``import ember`` never imports mpi4py; the first collective (or ``init_process_group``) does.
"""
import os

from .errors import DistributedError

_INSTALL = ("data-parallel training runs on MPI: install Open MPI (Debian/Ubuntu: "
            "apt-get install openmpi-bin libopenmpi-dev) and mpi4py "
            "(pip install 'ember[distributed]')")

_MPI = None


def load():
    """The ``mpi4py.MPI`` module (MPI is initialised on first call)."""
    global _MPI
    if _MPI is not None:
        return _MPI
    # hwloc's OpenGL probe connects to X displays (ports 6000-6009) and can hang MPI_Init on
    # machines where something else listens there; ember never needs GPU topology from hwloc
    os.environ.setdefault("HWLOC_COMPONENTS", "-gl")
    try:
        import mpi4py
    except ImportError:
        raise DistributedError(f"mpi4py is not installed; {_INSTALL}") from None
    try:
        from mpi4py import MPI
    except ImportError as e:  # mpi4py present but its MPI library is not
        raise DistributedError(f"mpi4py {mpi4py.__version__} cannot load an MPI library ({e}); "
                               f"{_INSTALL}") from None
    _MPI = MPI
    return MPI


def available():
    """True when mpi4py and an MPI library can be imported (does not initialise MPI)."""
    if _MPI is not None:
        return True
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


def launched_world_size():
    """The number of processes a launcher (mpirun / mpiexec) started, from its environment;
    1 when not started by one."""
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"):
        v = os.environ.get(var)
        if v and v.isdigit():
            return int(v)
    return 1
