"""Data-parallel training on MPI, with PyTorch's ``torch.distributed`` names.

Start N processes with ``mpirun -n N python script.py`` (see README "Many machines"); each
calls ``init_process_group(backend="mpi")``, wraps its model in
``ember.nn.parallel.DistributedDataParallel`` and reads its shard of the data through
``ember.data.DistributedSampler``. mpi4py (``pip install 'ember[distributed]'``) and an MPI
library (Open MPI) are needed only when a process group is used: ``import ember`` and
``import ember.distributed`` do not load them.
"""
from .collectives import (ReduceOp, Work, all_gather, all_gather_object, all_reduce, barrier,
                          broadcast)
from .errors import DistributedError
from .group import (ProcessGroup, destroy_process_group, get_rank, get_world_size,
                    init_process_group, is_available, is_initialized, is_main_process)

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available",
           "get_rank", "get_world_size", "is_main_process", "barrier", "all_reduce",
           "broadcast", "all_gather", "all_gather_object", "ReduceOp", "Work", "ProcessGroup",
           "DistributedError"]
