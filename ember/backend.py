"""The one place that names an array library.

Primitives never import NumPy's functions for their arrays directly: they ask for the array
module of their inputs, so the same rule runs on NumPy arrays (CPU) and on CuPy arrays (GPU)::

    xp = get_array_module(x, w)
    out = xp.matmul(x, w)

NumPy is the default. A module is chosen by the type of the arrays: every array type registers
the module that owns it (CuPy when it is installed; the test device backend in the tests).

Devices: each device type ("cpu", "cuda", the test device "fake") has a :class:`Backend` that
knows its array module, how to move arrays between the host and the device, and which device
an array lives on. ``ember.device`` and ``Tensor.to`` go through :func:`get_backend` and
:func:`move`; CuPy is imported only when a CUDA device is asked for.
"""
import contextlib

import numpy as np

_MODULES = {}  # array type -> array module
_DEVICE_OF = {}  # array type -> function(array) -> ember.device


def register_array_module(array_type, module):
    """Make ``get_array_module`` return ``module`` for arrays of ``array_type``."""
    _MODULES[array_type] = module


def get_array_module(*arrays):
    """The array module (``numpy``, ``cupy``, ...) that owns the first non-NumPy array among
    ``arrays``; ``numpy`` when they are all NumPy arrays, scalars or None."""
    if _MODULES:
        for a in arrays:
            m = _MODULES.get(type(a))
            if m is not None:
                return m
    return np


def is_array(x):
    """True for a NumPy array or an array of a registered device backend."""
    return isinstance(x, np.ndarray) or type(x) in _MODULES


class Backend:
    """One device type. Subclasses set ``type`` and implement the four hooks below."""

    type = "?"
    #: the backend's GEMM takes float16 inputs and accumulates in float32 (cuBLAS does);
    #: autocast emulates that on backends without it (float32 math on float16-rounded inputs)
    native_half_matmul = False

    def module(self):
        """The array module (numpy-compatible namespace) of this device type."""
        raise NotImplementedError

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return 1

    def from_host(self, array: np.ndarray, index: int):
        """Copy a host (NumPy) array to device ``index``."""
        raise NotImplementedError

    def to_host(self, array) -> np.ndarray:
        """Copy a device array to a host NumPy array."""
        raise NotImplementedError

    def on(self, index):
        """Context manager selecting device ``index`` while arrays are made (a no-op here)."""
        return contextlib.nullcontext()

    def check_index(self, index):
        if index is None:  # the current device
            return
        n = self.device_count()
        if not 0 <= index < n:
            raise RuntimeError(f"device '{self.type}:{index}' does not exist: this machine has "
                               f"{n} {self.type} device(s) (indices 0..{n - 1})")


class NumpyBackend(Backend):
    type = "cpu"

    def module(self):
        return np

    def from_host(self, array, index):
        return array

    def to_host(self, array):
        return array

    def check_index(self, index):
        if index not in (None, 0):
            raise RuntimeError(f"device 'cpu:{index}': there is one CPU device (index 0)")


_CUDA_HELP = ("CUDA needs CuPy and an NVIDIA GPU: install the CuPy wheel matching your CUDA "
              "toolkit, e.g. `pip install cupy-cuda12x` (see https://docs.cupy.dev/en/stable/"
              "install.html), and check that `nvidia-smi` lists a GPU.")


class CupyBackend(Backend):
    """NVIDIA GPUs through CuPy, imported lazily (``import ember`` never imports it)."""

    type = "cuda"
    native_half_matmul = True

    def _cupy(self):
        try:
            import cupy
        except ImportError:
            return None
        return cupy

    def device_count(self):
        cp = self._cupy()
        if cp is None:
            return 0
        try:
            return int(cp.cuda.runtime.getDeviceCount())
        except Exception:  # CuPy installed but no driver / no GPU
            return 0

    def is_available(self):
        return self.device_count() > 0

    def require(self):
        """The cupy module, or a RuntimeError that says what is missing and how to fix it."""
        cp = self._cupy()
        if cp is None:
            raise RuntimeError("device 'cuda' asked for, but CuPy is not installed. " + _CUDA_HELP)
        if self.device_count() == 0:
            raise RuntimeError("device 'cuda' asked for, but no CUDA GPU is available (CuPy is "
                               "installed, the driver reports no device). " + _CUDA_HELP)
        if cp.ndarray not in _MODULES:
            register_array_module(cp.ndarray, cp)
            _DEVICE_OF[cp.ndarray] = _cupy_device_of
        return cp

    def module(self):
        return self.require()

    def check_index(self, index):
        self.require()
        super().check_index(index)

    def on(self, index):
        return self.require().cuda.Device(index or 0)

    def from_host(self, array, index):
        cp = self.require()
        with cp.cuda.Device(index or 0):
            return cp.asarray(array)

    def to_host(self, array):
        return array.get()


def _cupy_device_of(a):
    from .devices import device
    return device("cuda", a.device.id)


_BACKENDS = {"cpu": NumpyBackend(), "cuda": CupyBackend()}


def register_backend(backend: Backend, array_type=None, device_of=None):
    """Add a device type. ``array_type`` arrays get ``backend.module()`` as their array module
    and ``device_of(array)`` (default: index 0) as their device."""
    _BACKENDS[backend.type] = backend
    if array_type is not None:
        register_array_module(array_type, backend.module())
        if device_of is None:
            from .devices import device
            dev = device(backend.type, 0)

            def device_of(a, _d=dev):
                return _d
        _DEVICE_OF[array_type] = device_of


def get_backend(device_type: str) -> Backend:
    b = _BACKENDS.get(device_type)
    if b is None:
        raise RuntimeError(f"unknown device type {device_type!r}: expected one of "
                           f"{sorted(_BACKENDS)}")
    return b


def device_types():
    return tuple(_BACKENDS)


def device_of(array):
    """The ``ember.device`` an array lives on (cpu for NumPy arrays and scalars)."""
    f = _DEVICE_OF.get(type(array))
    if f is None:
        from .devices import CPU
        return CPU
    return f(array)


def to_host(array):
    """A NumPy array with the values of ``array`` (a copy when it lives on a device)."""
    if isinstance(array, np.ndarray) or type(array) not in _DEVICE_OF:
        return array
    return _BACKENDS[device_of(array).type].to_host(array)


def move(array, dev):
    """``array`` on device ``dev`` (an ``ember.device``); the same object when it is there."""
    from .devices import same_place
    src = device_of(array)
    if same_place(src, dev):
        return array
    host = to_host(array)
    b = get_backend(dev.type)
    b.check_index(dev.index)
    return b.from_host(host, dev.index)
