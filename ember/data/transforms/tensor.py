"""ToTensor (uint8 HWC -> float CHW in [0, 1]) and per-channel Normalize."""
import numpy as np

from .base import Transform, as_nchw, float_dtype, rewrap, unwrap


class ToTensor:
    """Convert images to float32 channel-first arrays; uint8 is scaled by 1/255.

    Single: HW -> 1HW, HWC -> CHW. Batch: NHW -> N1HW, NHWC -> NCHW. Other integer or
    bool inputs become float32 unscaled; float inputs keep their values and dtype.
    (Returns NumPy arrays, or a Tensor when given a Tensor.)
    """

    supports_batch = True

    def __call__(self, x, batched=None):
        arr, was_tensor = unwrap(x)
        if batched is None:
            # a 3-D array is one HWC image only when its last dim looks like channels;
            # (8, 28, 28) is a batch of grey images, not a 28-channel image
            batched = arr.ndim == 4 or (arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4))
            if arr.ndim == 3 and batched and arr.dtype.kind == "f" and arr.shape[0] in (1, 3, 4):
                raise ValueError(f"ToTensor: a float array of shape {arr.shape} looks like a "
                                 "CHW tensor already; ToTensor converts HW / HWC images (pass "
                                 "batched=True for an NHW batch of grey images)")
        if batched:
            if arr.ndim == 3:
                arr = arr[:, None]
            elif arr.ndim == 4:
                arr = arr.transpose(0, 3, 1, 2)
            else:
                raise ValueError(f"ToTensor: a batch must be NHW or NHWC, got shape {arr.shape}")
        else:
            if arr.ndim == 2:
                arr = arr[None]
            elif arr.ndim == 3:
                arr = arr.transpose(2, 0, 1)
            else:
                raise ValueError(f"ToTensor: an image must be HW or HWC, got shape {arr.shape}")
        if arr.dtype == np.uint8:
            out = arr.astype(np.float32) * np.float32(1 / 255)
        elif arr.dtype.kind == "f":
            out = np.ascontiguousarray(arr)
        elif arr.dtype.kind in "iub":
            out = arr.astype(np.float32)
        else:
            raise TypeError(f"ToTensor: unsupported dtype {arr.dtype}")
        return rewrap(np.ascontiguousarray(out), was_tensor)

    def __repr__(self):
        return "ToTensor()"


class Normalize(Transform):
    """Per-channel standardisation: ``out[c] = (x[c] - mean[c]) / std[c]`` (channels-first
    tensors: put ``ToTensor()`` before it)."""

    keeps_dtype = False
    tensor_only = True

    def __init__(self, mean, std):
        super().__init__()
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError("Normalize: mean and std must be scalars or 1-D sequences")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {self.std.tolist()}")

    def apply_batch(self, x, rng):
        c = x.shape[1]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, c):
                raise ValueError(f"Normalize: {name} has {v.size} values but the image has {c} channels")
        dt = float_dtype(x)
        mean = self.mean.astype(dt).reshape(1, -1, 1, 1)
        std = self.std.astype(dt).reshape(1, -1, 1, 1)
        return (x.astype(dt, copy=False) - mean) / std
