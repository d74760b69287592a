"""Caffe's weight fillers (``weight_filler``, ``bias_filler``, ``filler`` messages).

For a blob of shape (num, channels, ...): fan_in = count / num, fan_out = count / channels,
n = fan_in, fan_out or their mean (``variance_norm``).

    constant   value
    uniform    U(min, max)
    gaussian   N(mean, std^2); with ``sparse`` = s >= 0, each weight kept with prob s / num
    xavier     U(-sqrt(3 / n), sqrt(3 / n))
    msra       N(0, 2 / n)
"""
import math

import numpy as np

from .errors import CaffeError
from .message import Msg

SUPPORTED = ("constant", "uniform", "gaussian", "xavier", "msra")


def _fan(shape, norm):
    count = int(np.prod(shape))
    fan_in = count / shape[0] if len(shape) > 0 and shape[0] else count
    fan_out = count / shape[1] if len(shape) > 1 and shape[1] else count
    return {"FAN_IN": fan_in, "FAN_OUT": fan_out, "AVERAGE": (fan_in + fan_out) / 2}[norm]


def fill(shape, filler: Msg, rng: np.random.Generator, layer: str = "") -> np.ndarray:
    """A float32 array of ``shape`` filled as the FillerParameter says."""
    t = filler.type
    if t == "constant":
        return np.full(shape, filler.value, np.float32)
    if t == "uniform":
        return rng.uniform(filler.min, filler.max, shape).astype(np.float32)
    if t == "gaussian":
        w = rng.normal(filler.mean, filler.std, shape).astype(np.float32)
        if filler.sparse >= 0:
            num = shape[0] if len(shape) else 1
            keep = rng.random(shape) < filler.sparse / num
            w *= keep
        return w
    if t == "xavier":
        a = math.sqrt(3.0 / _fan(shape, filler.variance_norm))
        return rng.uniform(-a, a, shape).astype(np.float32)
    if t == "msra":
        std = math.sqrt(2.0 / _fan(shape, filler.variance_norm))
        return rng.normal(0.0, std, shape).astype(np.float32)
    raise CaffeError(f"{filler.where('type')}: layer '{layer}': unknown filler type '{t}'; "
                     f"supported: {', '.join(SUPPORTED)}")
