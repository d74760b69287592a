"""``ember.autocast``: automatic mixed precision as a dispatch mode.

Inside ``with ember.autocast("cpu", dtype=ember.float16):`` each primitive call on a tensor of
that device type is handled by op name, as PyTorch's autocast lists do:

- low precision (``LOW_PRECISION_OPS``: matmul, linear, conv): floating inputs are cast to
  ``dtype`` and the result is ``dtype``. Accumulation is float32: on backends whose GEMM takes
  float16 and accumulates in float32 (cuBLAS through CuPy) the op runs on the float16 arrays; on
  NumPy (no float16 GEMM: its float16 matmul is a slow loop) the inputs are rounded to ``dtype``
  and the product is computed in float32, then rounded to ``dtype`` -- the same numbers a
  float16-in/float32-accumulate GEMM gives, so CPU runs show the accuracy of real mixed
  precision (no speed is gained on the CPU).
- float32 (``FLOAT32_OPS``: reductions, softmax, exp/log/pow, normalisation, losses):
  low-precision inputs are cast up to float32, so sums and losses do not lose precision or
  overflow float16's 65504.
- every other op runs on what it is given (NumPy's promotion makes float16 + float32 float32).

The casts are differentiable primitives, so gradients flow back through them to float32
parameters (the "master weights"); pair with :class:`ember.amp.GradScaler` for float16.
``autocast(enabled=False)`` inside an enabled region switches it off locally.
"""
import functools
import threading

import numpy as np

from .. import backend as _backend
from ..dispatch import DispatchMode
from ..dtypes import as_dtype, is_floating_point
from ..tensor import Tensor

LOW_PRECISION_OPS = frozenset({"MatMul", "Linear", "Conv2d", "Conv1d", "ConvTranspose2d",
                               "BatchMatMul", "Bmm", "Baddbmm", "Addmm"})
FLOAT32_OPS = frozenset({
    "Sum", "Mean", "Var", "Std", "Prod", "LogSumExp", "CumSum", "Norm",
    "Exp", "Log", "Pow", "Softplus", "Softmax", "LogSoftmax",
    "LayerNorm", "GroupNorm", "BatchNorm", "BatchNormTrain", "BatchNormEval",
    "SoftmaxCrossEntropy", "BinaryCrossEntropyWithLogits", "CrossEntropy", "NllLoss",
    "MseLoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KlDiv", "BinaryCrossEntropy"})

_F32 = np.dtype(np.float32)
_F16 = np.dtype(np.float16)
_DEFAULT = {"cpu": "bfloat16", "cuda": _F16}  # PyTorch's defaults per device type


class _State(threading.local):
    def __init__(self):
        self.settings = {}  # device type -> (enabled, dtype)
        self.pushed = set()  # device types whose mode is on the dispatch stack


_state = _State()


def get_autocast_dtype(device_type: str):
    """The low-precision dtype of the innermost active autocast for ``device_type``."""
    s = _state.settings.get(device_type)
    return None if s is None else s[1]


def is_autocast_enabled(device_type: str = "cpu") -> bool:
    s = _state.settings.get(device_type)
    return bool(s and s[0])


class Autocast(DispatchMode):
    """``Autocast(device_type, dtype=None, enabled=True)``; use through ``ember.autocast``.
    ``dtype`` defaults to PyTorch's: bfloat16 on "cpu" (needs ml_dtypes), float16 on "cuda"
    and other devices."""

    def __init__(self, device_type: str = "cpu", dtype=None, enabled: bool = True):
        if not isinstance(device_type, str) or device_type.partition(":")[0] not in \
                _backend.device_types():
            raise ValueError(f"autocast: device_type must be one of "
                             f"{', '.join(_backend.device_types())}, got {device_type!r}")
        self.device_type = device_type.partition(":")[0]
        self.enabled = bool(enabled)
        if dtype is None:  # a disabled region needs no dtype (and no ml_dtypes import)
            dtype = _DEFAULT.get(self.device_type, _F16) if self.enabled else _F16
        self.dtype = as_dtype(dtype)
        if not is_floating_point(self.dtype) or self.dtype.itemsize > 2:
            raise ValueError(f"autocast: dtype must be a 16-bit float (float16 or bfloat16), "
                             f"got {self.dtype}")
        self._native = _backend.get_backend(self.device_type).native_half_matmul
        self._saved = []

    def __enter__(self):
        dt = self.device_type
        pushed = self.enabled and dt not in _state.pushed
        self._saved.append((_state.settings.get(dt), pushed))
        _state.settings[dt] = (self.enabled, self.dtype)
        if pushed:  # one mode per device type does the work; nested ones change the setting
            _state.pushed.add(dt)
            super().__enter__()
        return self

    def __exit__(self, *exc):
        prev, pushed = self._saved.pop()
        dt = self.device_type
        if prev is None:
            _state.settings.pop(dt, None)
        else:
            _state.settings[dt] = prev
        if pushed:
            _state.pushed.discard(dt)
            super().__exit__(*exc)
        return False

    def __call__(self, fn):
        """Use as a decorator: ``@ember.autocast("cpu", ember.float16)``."""
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with Autocast(self.device_type, self.dtype, self.enabled):
                return fn(*args, **kwargs)
        return wrapped

    def __ember_dispatch__(self, op, inputs, attrs):
        name = op.__name__
        low = name in LOW_PRECISION_OPS
        if not (low or name in FLOAT32_OPS):
            return op.apply(*inputs, **attrs)
        enabled, dtype = _state.settings.get(self.device_type, (False, None))
        if not enabled or not self._on_my_device(inputs):
            return op.apply(*inputs, **attrs)
        if not low:  # float32 op: cast low-precision inputs up
            return op.apply(*[_cast(x, _F32, only_low=True) for x in inputs], **attrs)
        if self._native:
            return op.apply(*[_cast(x, dtype) for x in inputs], **attrs)
        # emulated float16 GEMM: inputs rounded to dtype, float32 products and sums
        rounded = [_cast(_cast(x, dtype), _F32) for x in inputs]
        return _cast(op.apply(*rounded, **attrs), dtype)

    def _on_my_device(self, inputs):
        for x in inputs:
            if isinstance(x, Tensor):
                d = x.data
                kind = "cpu" if type(d) is np.ndarray else _backend.device_of(d).type
                return kind == self.device_type
        return False


def _cast(x, dtype, only_low=False):
    """``x`` cast to ``dtype`` when it is a floating tensor of another dtype (differentiable)."""
    if not isinstance(x, Tensor):
        return x
    dt = x.data.dtype
    if dt == dtype or not is_floating_point(dt):
        return x
    if only_low and dt.itemsize > 2:
        return x
    return x.astype(dtype)
