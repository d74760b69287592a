"""Transform base class, Compose and Lambda.

Layout convention: a single image is CHW (or HW, treated as one channel); a batch is
NCHW (or NHW). ``t(x)`` infers batch-ness from ``x.ndim == 4``; pass ``batched=True``
(as DataLoader does) to be explicit, e.g. for an (N, H, W) batch of grey images.
"""
import numpy as np


def unwrap(x):
    """(ndarray, was_tensor) for an ndarray, ember Tensor or array-like."""
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(x, np.ndarray):
        return data, True
    return np.asarray(x), False


def rewrap(arr, was_tensor):
    if not was_tensor:
        return arr
    from ember.tensor import Tensor
    return Tensor(arr)


def as_nchw(x, batched, name):
    """View ``x`` as NCHW; returns (x4, restore) where restore maps NCHW back to x's layout."""
    if batched:
        if x.ndim == 4:
            return x, lambda y: y
        if x.ndim == 3:
            return x[:, None], lambda y: y[:, 0]
        raise ValueError(f"{name}: a batch must be NCHW or NHW, got shape {x.shape}")
    if x.ndim == 3:
        return x[None], lambda y: y[0]
    if x.ndim == 2:
        return x[None, None], lambda y: y[0, 0]
    raise ValueError(f"{name}: an image must be CHW or HW (or pass a 4-D NCHW batch), got shape {x.shape}")


def float_dtype(x):
    """Keep float arrays' precision; integers become float32 (ember's default)."""
    return x.dtype if x.dtype.kind == "f" else np.float32


class Transform:
    """Base for image transforms working on one image or a whole batch.

    Subclasses implement ``apply_batch(x, rng)`` on an NCHW array (``rng`` is the
    np.random.Generator to use); single images are routed through it as a batch of one.
    """

    supports_batch = True

    def __init__(self, generator=None):
        self.generator = generator

    def _rng(self):
        from .._rng import current_generator
        return current_generator(self.generator)

    def apply_batch(self, x, rng):
        raise NotImplementedError

    def __call__(self, x, batched=None):
        arr, was_tensor = unwrap(x)
        if batched is None:
            batched = arr.ndim == 4
        x4, restore = as_nchw(arr, batched, type(self).__name__)
        return rewrap(restore(self.apply_batch(x4, self._rng())), was_tensor)

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({fields})"


class Compose:
    """Chain transforms: ``Compose([t1, t2])(x) == t2(t1(x))``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    @property
    def supports_batch(self):
        return all(getattr(t, "supports_batch", False) for t in self.transforms)

    def __call__(self, x, batched=None):
        if batched is None:
            batched = np.ndim(getattr(x, "data", x)) == 4
        for t in self.transforms:
            if not batched:
                x = t(x)
            elif getattr(t, "supports_batch", False):
                x = t(x, batched=True)
            else:  # a plain callable: fall back to one image at a time
                arr, was_tensor = unwrap(x)
                x = rewrap(np.stack([np.asarray(unwrap(t(s))[0]) for s in arr]), was_tensor)
        return x

    def __repr__(self):
        inner = ",\n    ".join(repr(t) for t in self.transforms)
        return f"Compose([\n    {inner}\n])"


class Lambda:
    """Wrap a function as a transform; set ``batched=True`` if it handles whole batches."""

    def __init__(self, fn, batched=False):
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn
        self.supports_batch = bool(batched)

    def __call__(self, x, batched=None):
        return self.fn(x)
