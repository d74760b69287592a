"""A test device, ``"fake"``, whose arrays behave like a GPU's (like CuPy's), run on NumPy.

Importing this module registers the device type ``"fake"`` (one device, ``fake:0``)::

    import ember.testing.fake_device
    x = ember.randn(3, 4, device="fake")

A :class:`FakeArray` wraps a NumPy array and keeps CuPy's rules, so code that would break on a
GPU breaks here:

- no silent conversion to the host: ``np.asarray(x)`` (``__array__``) raises, as CuPy does;
  ``asnumpy(x)`` / ``tensor.cpu()`` is the explicit move;
- no mixing with host arrays: a NumPy ufunc or array function given a fake array and a host
  ``numpy.ndarray`` raises ``TypeError`` (Python and NumPy scalars are fine, as in CuPy);
- NumPy functions called on fake arrays only work through ``__array_ufunc__`` /
  ``__array_function__`` (as with CuPy), and the array module :data:`xp` mirrors NumPy's
  namespace with results on the device: ``xp.zeros``, ``xp.matmul``, ``xp.random``...

Indexing, views and in-place updates act on the wrapped array, so views share memory as on a
real device. Reductions give 0-d arrays, not NumPy scalars, as CuPy does.
"""
import numbers
import types

import numpy as np

from .. import backend as _backend

_GENERIC = (numbers.Number, np.generic, bool, type(None))


class DeviceMixError(TypeError):
    """A host NumPy array was mixed with fake-device arrays."""


def _host_error(what):
    return DeviceMixError(
        f"fake device: {what} got a host numpy.ndarray mixed with fake-device arrays; a GPU "
        "backend cannot do that. Move it explicitly (tensor.to(device), "
        "ember.backend.move, or create it with the array module of the inputs: "
        "xp = ember.backend.get_array_module(x))")


def _unwrap(x, what, allow_host=False):
    """Replace FakeArrays by their NumPy arrays (recursively in lists/tuples/dicts); refuse
    host ndarrays unless ``allow_host``."""
    t = type(x)
    if t is FakeArray:
        return x._a
    if t is np.ndarray:
        if not allow_host:
            raise _host_error(what)
        return x
    if t is tuple or t is list:
        return t(_unwrap(v, what, allow_host) for v in x)
    if t is dict:
        return {k: _unwrap(v, what, allow_host) for k, v in x.items()}
    return x


def _wrap(x):
    t = type(x)
    if t is np.ndarray:
        return FakeArray(x)
    if isinstance(x, np.generic):  # CuPy gives 0-d arrays where NumPy gives scalars
        return FakeArray(np.asarray(x))
    if t is tuple or t is list:
        return t(_wrap(v) for v in x)
    if isinstance(x, np.random.Generator):
        return _FakeGenerator(x)
    return x


def _fake_index(idx):
    # CuPy takes host index arrays (it copies them to the device), so they are allowed here
    return _unwrap(idx, "indexing", allow_host=True)


class _IndexArg:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


# functions whose arguments after the first are sizes/positions, not data: CuPy reads host
# arrays there (it converts them to Python ints), so the fake does too
_STATIC_ARRAY_ARGS = {"split", "array_split", "pad", "tile", "reshape", "broadcast_to",
                      "transpose", "expand_dims", "repeat"}


class FakeArray:
    """An array on the fake device. ``asnumpy(x)`` gives its values on the host."""

    __slots__ = ("_a",)
    __array_priority__ = 100  # below Tensor's 1000: ``fake + tensor`` defers to Tensor

    def __init__(self, array):
        if type(array) is not np.ndarray:
            raise TypeError(f"FakeArray wraps a numpy.ndarray, got {type(array).__name__}")
        self._a = array

    # ---- NumPy protocols --------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion of a fake-device array to a NumPy array is not "
                        "allowed (as on a GPU). Use ember.testing.fake_device.asnumpy(x) or "
                        "tensor.cpu() to copy it to the host explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        what = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        if method == "at" and len(inputs) > 1:  # ufunc.at(a, index, b): a host index is fine
            inputs = (inputs[0], _IndexArg(_fake_index(inputs[1]))) + inputs[2:]
        for x in inputs:
            if not (type(x) is FakeArray or type(x) is _IndexArg or isinstance(x, _GENERIC)):
                if type(x) is np.ndarray:
                    raise _host_error(what)
                return NotImplemented
        args = tuple(x.index if type(x) is _IndexArg else _unwrap(x, what) for x in inputs)
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = _unwrap(out, what)
        if "where" in kwargs:
            kwargs["where"] = _unwrap(kwargs["where"], what)
        res = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return _wrap(res)

    def __array_function__(self, func, types, args, kwargs):
        what = f"numpy.{func.__name__}"
        if func.__name__ in _STATIC_ARRAY_ARGS and args:
            # index-like arguments (split points, pad widths...) may be host arrays, as in CuPy
            args = (_unwrap(args[0], what),) + _unwrap(args[1:], what, allow_host=True)
            res = func(*args, **_unwrap(kwargs, what, allow_host=True))
        else:
            res = func(*_unwrap(args, what), **_unwrap(kwargs, what))
        out = kwargs.get("out")
        return out if out is not None else _wrap(res)

    # ---- attributes -------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: FakeArray(self._a.T))
    mT = property(lambda self: FakeArray(self._a.mT))
    real = property(lambda self: FakeArray(self._a.real))
    imag = property(lambda self: FakeArray(self._a.imag))

    @property
    def base(self):
        b = self._a.base
        return None if b is None else _wrap(b) if type(b) is np.ndarray else b

    @property
    def device(self):
        return _DEVICE

    def __getattr__(self, name):
        if name.startswith("__"):  # NumPy probes __array_interface__ etc.: not on a device
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            what = f"ndarray.{name}"

            def method(*args, **kwargs):
                res = attr(*_unwrap(args, what), **_unwrap(kwargs, what))
                return self if res is self._a else _wrap(res)
            return method
        return _wrap(attr)

    def get(self):
        """The values on the host (CuPy's spelling)."""
        return self._a.copy()

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    # ---- Python protocols -------------------------------------------------------------
    def __repr__(self):
        return "fake_array(" + np.array2string(self._a, separator=", ") + ")"

    __str__ = __repr__

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __complex__(self):
        return complex(self._a)

    __hash__ = None

    def __getitem__(self, idx):
        return _wrap(self._a[_fake_index(idx)])

    def __setitem__(self, idx, value):
        self._a[_fake_index(idx)] = _unwrap(value, "__setitem__")

    def __copy__(self):
        return FakeArray(self._a.copy())

    def __deepcopy__(self, memo):
        return FakeArray(self._a.copy())

    def __reduce__(self):  # pickling copies through the host, like CuPy
        return FakeArray, (self._a,)


def _binop(ufunc, reflected=False):
    def op(self, other):
        if not (type(other) is FakeArray or type(other) is np.ndarray or
                isinstance(other, _GENERIC)):
            return NotImplemented  # e.g. a Tensor: let its reflected operator run
        return ufunc(other, self) if reflected else ufunc(self, other)
    return op


def _iop(ufunc):
    def op(self, other):
        ufunc(self, other, out=(self,))
        return self
    return op


for _name, _uf in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder), ("pow", np.power), ("matmul", np.matmul),
                   ("and", np.bitwise_and), ("or", np.bitwise_or), ("xor", np.bitwise_xor),
                   ("lshift", np.left_shift), ("rshift", np.right_shift)]:
    setattr(FakeArray, f"__{_name}__", _binop(_uf))
    setattr(FakeArray, f"__r{_name}__", _binop(_uf, reflected=True))
    setattr(FakeArray, f"__i{_name}__", _iop(_uf))
for _name, _uf in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                   ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)]:
    setattr(FakeArray, f"__{_name}__", _binop(_uf))
for _name, _uf in [("neg", np.negative), ("pos", np.positive), ("abs", np.absolute),
                   ("invert", np.invert)]:
    setattr(FakeArray, f"__{_name}__", lambda self, _uf=_uf: _uf(self))
FakeArray.__divmod__ = _binop(np.divmod)


class _FakeGenerator:
    """``xp.random.default_rng(...)``: a NumPy Generator whose draws land on the device."""

    def __init__(self, g):
        self._g = g

    def __getattr__(self, name):
        attr = getattr(self._g, name)
        if not callable(attr):
            return attr

        def draw(*args, **kwargs):
            return _wrap(attr(*_unwrap(args, f"Generator.{name}"),
                              **_unwrap(kwargs, f"Generator.{name}")))
        return draw


class _FakeUfunc:
    """``xp.add`` etc.: NumPy's ufunc with results on the device and no host arrays."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        return self._call(self._uf, "__call__", args, kwargs)

    def _call(self, fn, method, args, kwargs):
        what = f"xp.{self._uf.__name__}"
        out = kwargs.get("out")
        res = fn(*_unwrap(args, what), **_unwrap(kwargs, what))
        if out is not None:
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return _wrap(res)

    def __getattr__(self, name):
        attr = getattr(self._uf, name)
        if name == "at":  # at(a, index, b): the index may be a host array, as in CuPy
            return lambda a, index, *rest, **k: self._call(
                lambda x, *r, **kw: attr(x, _fake_index(index), *r, **kw), name, (a,) + rest, k)
        if name in ("reduce", "accumulate", "outer", "reduceat"):
            return lambda *a, **k: self._call(attr, name, a, k)
        return attr


# transfer functions: the explicit way onto the device, so they take host arrays
_TRANSFER = {"asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray"}


class _FakeModule(types.ModuleType):
    """NumPy's namespace (or a submodule) with every result on the fake device."""

    def __init__(self, np_module):
        super().__init__("ember.testing.fake_device.xp")
        self._np = np_module
        self._cache = {}

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cache = self.__dict__["_cache"]
        if name in cache:
            return cache[name]
        if name == "ndarray":
            return FakeArray
        if name == "asnumpy":
            return asnumpy
        attr = getattr(self.__dict__["_np"], name)
        if isinstance(attr, types.ModuleType):
            val = _FakeModule(attr)
        elif isinstance(attr, np.ufunc):
            val = _FakeUfunc(attr)
        elif isinstance(attr, type) or not callable(attr):
            val = attr  # dtypes (xp.float32), classes (xp.errstate), constants (xp.pi)
        else:
            allow_host = name in _TRANSFER
            what = f"xp.{name}"

            def val(*args, _f=attr, **kwargs):
                return _wrap(_f(*_unwrap(args, what, allow_host),
                                **_unwrap(kwargs, what, allow_host)))
            val.__name__ = name
        cache[name] = val
        return val


#: the array module of the fake device (``ember.backend.get_array_module(fake_array)``)
xp = _FakeModule(np)


def asarray(a, dtype=None):
    """Copy a host array (or anything array-like) onto the fake device."""
    if type(a) is FakeArray:
        return a if dtype is None else FakeArray(a._a.astype(dtype))
    return FakeArray(np.array(a, dtype=dtype, copy=True))


def asnumpy(a):
    """The values of a fake array as a host NumPy array (a copy)."""
    if type(a) is FakeArray:
        return a._a.copy()
    return np.asarray(a)


class FakeBackend(_backend.Backend):
    """Backend of device type ``"fake"``: one device, NumPy underneath, GPU rules on top.
    ``native_half_matmul`` is False, like the CPU, so autocast takes its emulated path."""

    type = "fake"

    def module(self):
        return xp

    def from_host(self, array, index):
        return FakeArray(np.array(array, copy=True))

    def to_host(self, array):
        return array._a.copy()


from ..devices import device as _device  # noqa: E402

_backend.register_backend(FakeBackend(), FakeArray)
_DEVICE = _device("fake", 0)
