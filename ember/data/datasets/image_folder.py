"""ImageFolder: one class per sub-directory (root/<class>/<image>)."""
from pathlib import Path

import numpy as np

from ..dataset import Dataset
from .errors import DataFormatError, DatasetNotFoundError

PIL_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
EXTENSIONS = (".npy",) + PIL_EXTENSIONS


def load_image(path):
    """Read one image as a uint8 HWC / HW array: .npy always; PNG/JPEG/... via Pillow."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (FileNotFoundError, PermissionError):
            raise
        except (ValueError, OSError, EOFError) as exc:
            raise DataFormatError(f"{path}: not a plain .npy array ({exc})") from None
    if suffix in PIL_EXTENSIONS:
        try:
            from PIL import Image
        except ImportError:
            raise ImportError(f"reading {path} needs Pillow, which is not installed: "
                              "pip install Pillow (or convert the images to .npy)") from None
        # Pillow signals a corrupt/truncated/foreign file with many types (UnidentifiedImageError
        # is an OSError; SyntaxError, ValueError, EOFError, DecompressionBombError ...).
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("RGB"))
        except (FileNotFoundError, PermissionError):
            raise
        except (OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError,
                Image.DecompressionBombError) as exc:
            raise DataFormatError(f"{path}: cannot read this image ({type(exc).__name__}: "
                                  f"{exc})") from None
    raise DataFormatError(f"{path}: unsupported image extension {suffix!r} (supported: {EXTENSIONS})")


class ImageFolder(Dataset):
    """Images under ``root/<class_name>/``; classes sorted by name, labels 0..K-1.

    Attributes: ``classes``, ``class_to_idx``, ``samples`` (list of (path, label)).
    """

    def __init__(self, root, transform=None, target_transform=None, extensions=EXTENSIONS):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetNotFoundError(f"ImageFolder: {self.root} is not a directory")
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir())
        if not self.classes:
            raise DatasetNotFoundError(f"ImageFolder: no class sub-folders in {self.root}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        exts = tuple(e.lower() for e in extensions)
        self.samples = [(p, self.class_to_idx[c]) for c in self.classes
                        for p in sorted((self.root / c).rglob("*"))
                        if p.is_file() and p.suffix.lower() in exts]
        if not self.samples:
            raise DatasetNotFoundError(f"ImageFolder: no files with extensions {exts} under {self.root}")
        self.targets = np.array([y for _, y in self.samples], dtype=np.int64)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        image = load_image(path)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label


def load_image_folder(root):
    """All images of an ImageFolder tree stacked: ``(x, y, classes)`` (same shapes required)."""
    ds = ImageFolder(root)
    images = [load_image(p) for p, _ in ds.samples]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataFormatError(f"load_image_folder: images under {root} have different shapes "
                              f"{sorted(shapes)}; use ImageFolder with a resizing transform instead")
    return np.stack(images), ds.targets.copy(), ds.classes
