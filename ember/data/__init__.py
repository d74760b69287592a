"""ember.data: datasets, DataLoader, transforms, preprocessing and dataset readers."""
from .._lazy import lazy as _lazy
from .categorical import to_categorical
from .collate import default_collate
from .dataset import ArrayDataset, ConcatDataset, Dataset, Subset, TensorDataset
from .loader import DataLoader
from .split import random_split

_DATASETS = ("CIFAR10", "CIFAR100", "MNIST", "ChecksumError", "DataFormatError",
             "DatasetNotFoundError", "FashionMNIST", "ImageFolder", "Resource", "UnsafePickleError",
             "download", "load_cifar10", "load_cifar100", "load_fashion_mnist", "load_image",
             "load_image_folder", "load_mnist", "read_cifar_binary", "read_cifar_pickle",
             "read_idx", "safe_load", "safe_loads", "write_idx")
# dataset readers (and the downloader), transforms and preprocessing load on first use
__getattr__, __dir__ = _lazy(__name__, globals(), {
    "datasets": ".datasets", "transforms": ".transforms", "preprocessing": ".preprocessing",
    "distributed": ".distributed", "DistributedSampler": ".distributed:DistributedSampler",
    **{n: ".datasets:" + n for n in _DATASETS}})

__all__ = [
    "Dataset", "ArrayDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
    "DataLoader", "DistributedSampler", "default_collate", "to_categorical", "transforms", "preprocessing",
    "MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "ImageFolder",
    "load_mnist", "load_fashion_mnist", "load_cifar10", "load_cifar100", "load_image_folder", "load_image",
    "read_idx", "write_idx", "read_cifar_binary", "read_cifar_pickle", "safe_load", "safe_loads",
    "download", "Resource", "DataFormatError", "DatasetNotFoundError", "ChecksumError", "UnsafePickleError",
]
