"""Base of the image-classification readers (MNIST, Fashion-MNIST, CIFAR): arrays loaded once,
``data``/``targets``/``classes`` as torchvision names them."""
import numpy as np

from ..dataset import ArrayDataset


class LabelledImages(ArrayDataset):
    """Subclasses set ``spec`` and ``_load_split(spec, root, train, download) -> (images,
    labels)``; samples are (image, int64 label)."""

    spec = None

    @staticmethod
    def _load_split(spec, root, train, download):  # pragma: no cover - abstract
        raise NotImplementedError

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        images, labels = self._load_split(self.spec, root, train, download)
        super().__init__(images, labels.astype(np.int64), transform=transform,
                         target_transform=target_transform)
        self.train = bool(train)
        classes = getattr(self.spec, "classes", None)  # names (MNIST) or a count (CIFAR)
        if isinstance(classes, (list, tuple)):
            self.classes = list(classes)

    @property
    def data(self):
        return self.arrays[0]

    @property
    def targets(self):
        return self.arrays[1]
