"""Parallel wrappers of modules (PyTorch's ``torch.nn.parallel`` names)."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
