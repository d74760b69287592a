"""ember: a deep-learning framework on NumPy.

Tensors with NumPy broadcasting and reverse-mode autodiff (``ember.tensor``, ``backward()``),
neural-network layers (``ember.nn``), optimizers (``ember.optim``), data loading (``ember.data``)
and Keras-style training.
"""
import numpy as _np

from .tensor import Tensor  # first: autograd and the dispatcher import it
from .devices import device
from . import autograd
from . import dispatch  # installs Function.apply, the one dispatch point
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                       randperm, tensor, zeros, zeros_like)
from .functions import *  # noqa: F401,F403
from .functions import (abs, add, amax, amin, argmax, argmin, cat, ceil, chunk, clamp, clip,
                        concat, concatenate, cos, div, exp, flatten, floor, is_tensor, isfinite,
                        isnan, log, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg,
                        numel, pad, permute, pow, prod, relu, reshape, round, sigmoid, sign, sin,
                        split, sqrt, squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze,
                        var, where)
from .random import initial_seed, manual_seed
from . import nn, optim  # noqa: E402
from .summary import summary  # noqa: E402  (eager: the function shadows its module's name)
from ._lazy import lazy as _lazy  # noqa: E402

float32 = _np.float32
float64 = _np.float64
float16 = _np.float16
int64 = _np.int64
int32 = _np.int32
int8 = _np.int8
uint8 = _np.uint8
bool = _np.bool_
float = float32
double = float64
long = int64
half = float16


def _bfloat16(name):
    # bfloat16 needs the optional ml_dtypes package: resolved on first use, not at import
    if name == "bfloat16":
        from .dtypes import bfloat16_dtype
        return bfloat16_dtype().type
    if name == "onnx":  # ember.onnx.export without an import line; onnx itself loads on use
        import importlib
        return importlib.import_module(".onnx", __name__)
    raise AttributeError(f"module 'ember' has no attribute {name!r}")


# Loaded on first use (PEP 562), so `import ember` costs only the core (the Tensor, grad mode,
# the dispatcher, creation and function forms): training loops, data readers and downloads,
# the doctor, checkpoints and TensorBoard writers, the graph/jit, Keras/Caffe front ends,
# search, ONNX, CUDA queries, mixed precision. ember.nn, ember.optim and ember.ops are bound,
# but load each layer, optimizer and primitive module on first use too (their own __getattr__).
__getattr__, __dir__ = _lazy(__name__, globals(), {
    "callbacks": ".callbacks", "data": ".data", "diagnose": ".diagnose", "io": ".io",
    "utils": ".utils", "train": ".train", "keras": ".keras", "tune": ".tune",
    "caffe": ".caffe", "graph": ".graph", "compat": ".compat", "onnx": ".onnx",
    "cli": ".cli", "testing": ".testing", "cuda": ".cuda",
    "kernels": ".kernels", "distributed": ".distributed", "amp": ".amp",
    "autocast": ".amp:autocast",
    "load": ".io:load", "save": ".io:save",
    "Model": ".train:Model", "Sequential": ".train:Sequential", "jit": ".graph.jit:jit",
}, fallback=_bfloat16)

__version__ = "0.1.0"
