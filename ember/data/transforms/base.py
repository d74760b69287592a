"""Transform base class, Compose and Lambda.

Layouts, as torchvision: tensors are channels-first -- one image CHW (or HW, one channel), a
batch NCHW (or NHW). Images as files give them -- ``ImageFolder`` / ``load_image`` return uint8
HWC arrays, torchvision's PIL images -- are accepted too by the geometric transforms (crops,
resizes, flips, rotations), which return them in the same layout and dtype (HWC uint8 in,
HWC uint8 out, like PIL in, PIL out); ``ToTensor()`` then makes the CHW float tensor.

Which layout an array has is decided from its dtype and shape, never guessed silently:

- uint8 3-D (4-D batch): HWC (NHWC) when the last dim is 1, 3 or 4 channels; else CHW (NCHW)
  when the first (second) dim is; else an error.
- any other dtype: CHW (NCHW), unless the last dim looks like channels (1, 3 or 4) and the two
  before it like an image's height and width (both > 4) -- then it is an HWC float image, which
  is an error (``ToTensor()`` or ``x.transpose(2, 0, 1)`` first).

Tensor-only transforms (Normalize, GaussianNoise, RandomErasing) refuse HWC images, as
torchvision's refuse PIL images: put ``ToTensor()`` before them.

``t(x)`` infers batch-ness from ``x.ndim == 4``; pass ``batched=True`` (as DataLoader does)
to be explicit, e.g. for an (N, H, W) batch of grey images.
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


CHANNELS = (1, 3, 4)  # channel counts an image can have (grey, RGB, RGBA)


def is_channels_last(x, batched, name):
    """True when ``x`` is an HWC image / NHWC batch (see the module docstring for the rule);
    raises ValueError when its layout is wrong or cannot be told."""
    if x.ndim != (4 if batched else 3):
        return False
    first, last = x.shape[1 if batched else 0], x.shape[-1]
    what = "a batch" if batched else "an image"
    if x.dtype == np.uint8:
        if last in CHANNELS:
            return True
        if first in CHANNELS:
            return False
        raise ValueError(f"{name}: cannot tell the channels of {what} of shape {x.shape}: "
                         f"neither the first nor the last dim is 1, 3 or 4 channels")
    if last in CHANNELS and min(x.shape[-3:-1]) > max(CHANNELS):
        raise ValueError(
            f"{name}: {what} of shape {x.shape} ({x.dtype}) looks channels-last "
            f"({'NHWC' if batched else 'HWC'}); ember's tensors are channels-first as "
            f"torchvision's: convert with ToTensor() (uint8 images) or "
            f"x.transpose({'0, 3, 1, 2' if batched else '2, 0, 1'}) first")
    return False


def as_nchw(x, batched, name):
    """View ``x`` as NCHW; returns (x4, restore) where restore maps NCHW back to x's layout
    (HWC images come back HWC)."""
    if is_channels_last(x, batched, name):
        if batched:
            return x.transpose(0, 3, 1, 2), lambda y: y.transpose(0, 2, 3, 1)
        return x.transpose(2, 0, 1)[None], lambda y: y[0].transpose(1, 2, 0)
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
    #: geometric transforms keep an integer image integer (rounded, clipped), as torchvision
    #: does for uint8 images; the others compute in float
    keeps_dtype = True
    #: refuses HWC images (works on channels-first tensors only)
    tensor_only = False

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
        name = type(self).__name__
        if self.tensor_only and is_channels_last(arr, batched, name):
            raise ValueError(f"{name} works on channels-first tensors (CHW / NCHW), got a "
                             f"{'NHWC' if batched else 'HWC'} image of shape {arr.shape}: put "
                             "ToTensor() before it")
        x4, restore = as_nchw(arr, batched, name)
        out = self.apply_batch(x4, self._rng())
        if self.keeps_dtype and arr.dtype.kind in "ui" and out.dtype.kind == "f":
            info = np.iinfo(arr.dtype)
            out = np.clip(np.rint(out), info.min, info.max).astype(arr.dtype)
        return rewrap(np.ascontiguousarray(restore(out)), was_tensor)

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
