"""Image transforms (torchvision names) on channels-first tensors (one CHW image or an NCHW batch);
the geometric ones also take the uint8 HWC images ImageFolder returns (see ``base`` for the
layout rule)."""
from .affine import RandomAffine, RandomRotation
from .base import Compose, Lambda, Transform
from .crop import CenterCrop, RandomCrop, RandomResizedCrop, RandomSizedCrop, Resize
from .erasing import RandomErasing
from .flip import RandomHorizontalFlip, RandomVerticalFlip
from .mixup import Mixup
from .noise import GaussianNoise
from .sampling import grid_sample
from .tensor import Normalize, ToTensor

__all__ = ["Transform", "Compose", "Lambda", "ToTensor", "Normalize", "CenterCrop", "RandomCrop",
           "Resize", "RandomResizedCrop", "RandomSizedCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
           "RandomRotation", "RandomAffine", "GaussianNoise", "RandomErasing", "Mixup", "grid_sample"]
