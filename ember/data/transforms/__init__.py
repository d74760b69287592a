"""Image transforms (torchvision names) working on one CHW image or an NCHW batch."""
from .affine import RandomAffine, RandomRotation
from .base import Compose, Lambda, Transform
from .crop import CenterCrop, RandomCrop, RandomResizedCrop, Resize
from .erasing import RandomErasing
from .flip import RandomHorizontalFlip, RandomVerticalFlip
from .mixup import Mixup
from .noise import GaussianNoise
from .sampling import grid_sample
from .tensor import Normalize, ToTensor

__all__ = ["Transform", "Compose", "Lambda", "ToTensor", "Normalize", "CenterCrop", "RandomCrop",
           "Resize", "RandomResizedCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
           "RandomRotation", "RandomAffine", "GaussianNoise", "RandomErasing", "Mixup", "grid_sample"]
