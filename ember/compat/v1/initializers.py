"""TF1 initializers: ``init(shape, dtype)`` gives a graph Value drawn when it runs (a Variable's
initializer), with TensorFlow's layout for fans: a kernel is (..., fan_in, fan_out), so for a
conv kernel (kh, kw, in, out) fan_in = kh kw in and fan_out = kh kw out."""
from __future__ import annotations

import math

import numpy as np

from ...graph import build


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated(rng, shape, mean, std):
    """N(mean, std^2) with draws beyond 2 std redrawn (TensorFlow's truncated normal)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * std + mean


class Initializer:
    """Callable ``init(shape, dtype=float32, partition_info=None) -> graph tensor``."""

    name = "RandomOp"

    def sample(self, rng, shape, dtype):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, shape, dtype=np.float32, partition_info=None):
        shape = tuple(int(d) for d in shape)
        dtype = np.dtype(dtype if dtype is not None else np.float32)
        return build.random(self.sample, shape, dtype, name=self.name, seed=self.seed)

    seed = None


class Constant(Initializer):
    def __init__(self, value=0.0, dtype=None):
        self.value = value

    def __call__(self, shape, dtype=np.float32, partition_info=None):
        a = np.broadcast_to(np.asarray(self.value, dtype), tuple(shape))
        return build.constant(a, dtype, name="Const")


def zeros_initializer(dtype=None):
    return Constant(0.0)


def ones_initializer(dtype=None):
    return Constant(1.0)


def constant_initializer(value=0, dtype=None):
    return Constant(value)


class RandomNormal(Initializer):
    name = "random_normal"

    def __init__(self, mean=0.0, stddev=1.0, seed=None, truncated=False):
        self.mean, self.stddev, self.seed, self.truncated = mean, stddev, seed, truncated
        if truncated:
            self.name = "truncated_normal"

    def sample(self, rng, shape, dtype):
        if self.truncated:
            return _truncated(rng, shape, self.mean, self.stddev)
        return rng.normal(self.mean, self.stddev, shape)


class RandomUniform(Initializer):
    name = "random_uniform"

    def __init__(self, minval=0.0, maxval=None, seed=None):
        self.minval, self.seed = minval, seed
        self.maxval = 1.0 if maxval is None else maxval

    def sample(self, rng, shape, dtype):
        if np.dtype(dtype).kind in "iu":
            return rng.integers(self.minval, self.maxval, shape)
        return rng.uniform(self.minval, self.maxval, shape)


class Glorot(Initializer):
    """Xavier/Glorot: uniform U(-a, a), a = sqrt(6 / (fan_in + fan_out)), or a truncated normal
    of std sqrt(2 / (fan_in + fan_out)) (scaled so the truncation keeps that variance)."""

    def __init__(self, uniform=True, seed=None):
        self.uniform, self.seed = uniform, seed
        self.name = "glorot_uniform" if uniform else "glorot_normal"

    def sample(self, rng, shape, dtype):
        fi, fo = _fans(shape)
        if self.uniform:
            a = math.sqrt(6.0 / (fi + fo))
            return rng.uniform(-a, a, shape)
        return _truncated(rng, shape, 0.0, math.sqrt(2.0 / (fi + fo)) / 0.87962566103423978)


def random_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=None):
    return RandomNormal(mean, stddev, seed)


def truncated_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=None):
    return RandomNormal(mean, stddev, seed, truncated=True)


def random_uniform_initializer(minval=0.0, maxval=None, seed=None, dtype=None):
    return RandomUniform(minval, maxval, seed)


def glorot_uniform_initializer(seed=None, dtype=None):
    return Glorot(True, seed)


def glorot_normal_initializer(seed=None, dtype=None):
    return Glorot(False, seed)


def xavier_initializer(uniform=True, seed=None, dtype=None):
    """``tf.contrib.layers.xavier_initializer``: Glorot uniform (or normal)."""
    return Glorot(uniform, seed)


_BY_NAME = {"glorot_uniform": glorot_uniform_initializer,
            "glorot_normal": glorot_normal_initializer,
            "zeros": zeros_initializer, "ones": ones_initializer,
            "random_normal": random_normal_initializer,
            "random_uniform": random_uniform_initializer,
            "truncated_normal": truncated_normal_initializer}


def get(init):
    """An initializer from a callable, a Keras name ('glorot_uniform', 'zeros', ...) or None."""
    if init is None or callable(init):
        return init
    if init not in _BY_NAME:
        raise ValueError(f"unknown initializer {init!r}; known: {sorted(_BY_NAME)}")
    return _BY_NAME[init]()
