"""Dataset base class and array-backed datasets (with a whole-batch fast path)."""
import numpy as np


class Dataset:
    """Map-style dataset: ``dataset[i]`` returns one sample, ``len(dataset)`` the count.

    Subclasses may also define ``get_batch(indices)`` returning the collated batch for an
    integer index array; DataLoader then fetches batches by fancy indexing instead of
    one ``__getitem__`` call per sample.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


def _as_array(x, what):
    """ndarray view of an ndarray / ember Tensor / array-like (no copy when possible)."""
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(x, np.ndarray):
        return data
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a leading sample dimension, got a scalar")
    return arr


def _supports_batch(transform):
    return bool(getattr(transform, "supports_batch", False))


def _apply_batched(transform, batch):
    """Apply a transform to a whole batch: vectorised if it supports batches, else per sample."""
    if getattr(transform, "needs_targets", False):
        raise TypeError(f"{type(transform).__name__} transforms (x, y) pairs, not inputs alone: "
                        "pass it as DataLoader(..., batch_transform=...)")
    if _supports_batch(transform):
        return transform(batch, batched=True)
    return np.stack([np.asarray(transform(sample)) for sample in batch])


class ArrayDataset(Dataset):
    """Dataset over arrays sharing their first dimension: sample i is ``(a[i], b[i], ...)``.

    ``transform`` is applied to the first array (the inputs), ``target_transform`` to the
    second (the targets). ``get_batch(indices)`` gathers a batch with one fancy-index per
    array and applies the transforms batch-wise when they support it.
    """

    def __init__(self, *arrays, transform=None, target_transform=None):
        if not arrays:
            raise ValueError(f"{type(self).__name__} needs at least one array")
        self.arrays = tuple(_as_array(a, f"{type(self).__name__} argument {i}")
                            for i, a in enumerate(arrays))
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"{type(self).__name__}: all arrays must have the same first "
                             f"dimension, got shapes {shapes}")
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.arrays[0])

    def _finish(self, items, batched):
        items = list(items)
        if self.transform is not None:
            items[0] = (_apply_batched(self.transform, items[0]) if batched
                        else self.transform(items[0]))
        if self.target_transform is not None and len(items) > 1:
            items[1] = (_apply_batched(self.target_transform, items[1]) if batched
                        else self.target_transform(items[1]))
        return tuple(items)

    def __getitem__(self, index):
        n = len(self)
        if not -n <= int(index) < n:
            raise IndexError(f"index {index} out of range for {type(self).__name__} of length {n}")
        return self._finish((a[index] for a in self.arrays), batched=False)

    def get_batch(self, indices):
        """The batch ``(a[indices], b[indices], ...)`` with transforms applied batch-wise."""
        indices = np.asarray(indices, dtype=np.intp)
        return self._finish((a[indices] for a in self.arrays), batched=True)


class TensorDataset(ArrayDataset):
    """PyTorch's TensorDataset: wraps tensors/arrays with equal first dimension; indexing gives
    a tuple of Tensors (``.arrays`` holds the underlying NumPy arrays)."""

    def __init__(self, *tensors):
        super().__init__(*tensors)

    def __getitem__(self, index):
        from ember.tensor import Tensor
        return tuple(Tensor(np.asarray(v)) for v in super().__getitem__(index))

    @property
    def tensors(self):
        from ember.tensor import Tensor
        return tuple(Tensor(a) for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.intp).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset indices out of range for a dataset of length {n}")

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __getattr__(self, name):
        # expose the batch fast path only when the parent has one
        # (read via __dict__ so copy/pickle, which probe before __init__ ran, cannot recurse)
        parent = self.__dict__.get("dataset")
        if name == "get_batch" and hasattr(parent, "get_batch"):
            return lambda indices: parent.get_batch(self.indices[np.asarray(indices, dtype=np.intp)])
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")


class ConcatDataset(Dataset):
    """Concatenation of several datasets, indexed end to end."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets])

    def __len__(self):
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index out of range for ConcatDataset of length {n}")
        d = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = 0 if d == 0 else int(self.cumulative_sizes[d - 1])
        return self.datasets[d][index - start]
