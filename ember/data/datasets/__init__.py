"""Dataset readers (MNIST, Fashion-MNIST, CIFAR, ImageFolder), verified downloads."""
from .cifar import CIFAR10, CIFAR100, load_cifar10, load_cifar100, read_cifar_binary, read_cifar_pickle
from .downloader import Resource, download
from .errors import ChecksumError, DataFormatError, DatasetNotFoundError
from .idx import read_idx, write_idx
from .imdb import imdb_word_index, load_imdb, read_imdb_npz
from .image_folder import ImageFolder, load_image, load_image_folder
from .mnist import MNIST, FashionMNIST, load_fashion_mnist, load_mnist
from .safe_pickle import UnsafePickleError, safe_load, safe_loads
