"""ember.data: datasets, DataLoader, transforms, preprocessing and dataset readers."""
from . import preprocessing, transforms
from .categorical import to_categorical
from .collate import default_collate
from .dataset import ArrayDataset, ConcatDataset, Dataset, Subset, TensorDataset
from .datasets import (CIFAR10, CIFAR100, MNIST, ChecksumError, DataFormatError, DatasetNotFoundError,
                       FashionMNIST, ImageFolder, Resource, UnsafePickleError, download, load_cifar10,
                       load_cifar100, load_fashion_mnist, load_image, load_image_folder, load_mnist,
                       read_cifar_binary, read_cifar_pickle, read_idx, safe_load, safe_loads, write_idx)
from .distributed import DistributedSampler
from .loader import DataLoader
from .split import random_split

__all__ = [
    "Dataset", "ArrayDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
    "DataLoader", "DistributedSampler", "default_collate", "to_categorical", "transforms", "preprocessing",
    "MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "ImageFolder",
    "load_mnist", "load_fashion_mnist", "load_cifar10", "load_cifar100", "load_image_folder", "load_image",
    "read_idx", "write_idx", "read_cifar_binary", "read_cifar_pickle", "safe_load", "safe_loads",
    "download", "Resource", "DataFormatError", "DatasetNotFoundError", "ChecksumError", "UnsafePickleError",
]
