"""Resize / Upsample with nearest-neighbour sampling by integer factors (what U-Nets and
GAN generators export for ``nn.Upsample(scale_factor=k)``): each element repeated k times
per spatial dim, by a reshape -> expand -> reshape (differentiable; the gradient sums each
block). For integer factors every coordinate mode except align_corners and every nearest
rounding mode pick the same source element, floor(i / k)."""
from __future__ import annotations

import numpy as np

from ._import_registry import array, ints, register, tensor


def _check(n):
    mode = n.get("mode", "nearest")
    if mode != "nearest":
        n.unsupported(f"mode={mode!r} (only 'nearest' resizing by integer factors is supported)")
    ctm = n.get("coordinate_transformation_mode", "half_pixel")
    if ctm in ("align_corners", "tf_crop_and_resize"):
        n.unsupported(f"coordinate_transformation_mode={ctm!r} is not supported")
    if n.get("axes") is not None:
        n.unsupported("the axes attribute (opset 18) is not supported")


def _factors(n, shape, scales, sizes):
    if sizes is not None and np.asarray(array(sizes)).size:
        sz = ints(sizes)
        if len(sz) != len(shape) or any(s % i for s, i in zip(sz, shape)):
            raise n.error(f"sizes {sz} are not integer multiples of the input shape {shape}")
        return [s // i for s, i in zip(sz, shape)]
    sc = [float(v) for v in np.asarray(array(scales)).reshape(-1)]
    if len(sc) != len(shape) or any(v != int(v) or v < 1 for v in sc):
        raise n.error(f"scales {sc} for an input of shape {shape}: only integer upscaling "
                      "factors >= 1 are supported")
    return [int(v) for v in sc]


def _repeat(x, k):
    shp = tuple(x.shape)
    if all(f == 1 for f in k):
        return x
    inter = tuple(v for d in shp for v in (d, 1))
    full = tuple(v for d, f in zip(shp, k) for v in (d, f))
    return x.reshape(inter).expand(full).reshape(tuple(d * f for d, f in zip(shp, k)))


@register("Resize", check=_check)
def _resize(n, x, roi=None, scales=None, sizes=None):
    x = tensor(x)
    if n.opset < 11:           # opset 10: Resize(X, scales)
        scales = roi
    return _repeat(x, _factors(n, tuple(x.shape), scales, sizes))


@register("Upsample", check=_check)
def _upsample(n, x, scales=None):
    x = tensor(x)
    if n.opset < 9:
        scales = np.asarray(n.get("scales"), np.float32)
    return _repeat(x, _factors(n, tuple(x.shape), scales, None))
