"""Mixup batch augmentation (Zhang et al., 2018)."""
import numpy as np

from ..categorical import to_categorical
from .base import rewrap, unwrap


class Mixup:
    """Blend each example with a random partner from the same batch.

    ``lam ~ Beta(alpha, alpha)``; ``x' = lam * x + (1 - lam) * x[perm]`` and
    ``y' = lam * y + (1 - lam) * y[perm]`` with y one-hot (integer labels are one-hot
    encoded using ``num_classes``). Call ``mixup(x, y)`` -> ``(x', y')``; the last
    ``lam`` and ``perm`` are kept on the object for inspection.

    It mixes (x, y) pairs, so in a pipeline it goes where whole batches are seen:
    ``DataLoader(ds, batch_size=128, batch_transform=Mixup(0.2, num_classes=10))``.
    """

    needs_targets = True  # a batch transform of (x, y), not of x alone

    def __init__(self, alpha=0.2, num_classes=None, generator=None):
        if alpha <= 0:
            raise ValueError(f"Mixup: alpha must be > 0, got {alpha}")
        self.alpha, self.num_classes, self.generator = float(alpha), num_classes, generator
        self.last_lambda = self.last_perm = None

    def __call__(self, x, y, num_classes=None):
        from .._rng import current_generator
        rng = current_generator(self.generator)
        xa, x_tensor = unwrap(x)
        ya, y_tensor = unwrap(y)
        if len(xa) != len(ya):
            raise ValueError(f"Mixup: x has {len(xa)} samples but y has {len(ya)}")
        num_classes = num_classes or self.num_classes
        if ya.ndim == 1 or (ya.ndim == 2 and ya.shape[1] == 1 and ya.dtype.kind in "iu"):
            if num_classes is None:
                raise ValueError("Mixup: integer labels need num_classes (constructor or call argument)")
            ya = to_categorical(ya.reshape(-1), num_classes)
        elif ya.ndim != 2:
            raise ValueError(f"Mixup: y must be (N,) integer labels or (N, K) one-hot, got shape {ya.shape}")
        lam = float(rng.beta(self.alpha, self.alpha))
        perm = rng.permutation(len(xa))
        dt = xa.dtype if xa.dtype.kind == "f" else np.float32
        yt = ya.dtype if ya.dtype.kind == "f" else np.float32
        x_mix = (lam * xa + (1 - lam) * xa[perm]).astype(dt)
        y_mix = (lam * ya + (1 - lam) * ya[perm]).astype(yt)
        self.last_lambda, self.last_perm = lam, perm
        return rewrap(x_mix, x_tensor), rewrap(y_mix, y_tensor)
