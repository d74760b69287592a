"""The Tensor: an n-d array (``.data``, a NumPy array) that can record the ops applied to it so
``backward()`` can compute gradients.

Names and meanings follow PyTorch (``x.sum(dim, keepdim)``, ``x.view``, ``x.grad``); NumPy
spellings (``axis``, ``keepdims``, ``astype``) are accepted too.
"""
import numpy as np

from . import backend as _backend
from .devices import CPU as _CPU, as_device as _as_device
from .dtypes import as_dtype as _as_dtype, is_floating_point as _is_float
from . import ops as _ops  # primitive rules: arrays only, they never import Tensor

DEFAULT_FLOAT = np.float32
_new = object.__new__
_run_backward = None  # ember.autograd.engine.run_backward, bound on the first backward()


def _to_array(data, dtype=None):
    """Array for ``ember.tensor``: Python floats become float32 (the default float type),
    Python ints int64; NumPy arrays keep their dtype unless ``dtype`` is given."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) or type(data) in _backend._MODULES:
        arr = data  # host or device array: kept where it is
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
            data = _unwrap(data)
        arr = np.asarray(data)
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(DEFAULT_FLOAT)
    if dtype is not None:
        arr = arr.astype(_as_dtype(dtype), copy=False)
    if arr.dtype == object:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} "
                        "(ragged nested lists or non-numeric values)")
    return arr


def _flat(seq):
    for x in seq:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _unwrap(seq):
    return [(_unwrap(x) if isinstance(x, (list, tuple)) else
             (x.data if isinstance(x, Tensor) else x)) for x in seq]


def _dim_arg(dim, axis, name):
    if dim is not None and axis is not None:
        raise TypeError(f"{name}: give dim or axis, not both")
    return dim if dim is not None else axis


def _keep_arg(keepdim, keepdims):
    return bool(keepdims) if keepdims is not None else bool(keepdim)


_ONES = {}  # dtype -> 0-d array 1, copied for each backward() without a gradient


class Tensor:
    """n-dimensional array with reverse-mode autodiff.

    ``Tensor(array)`` wraps a NumPy array without copying; use ``ember.tensor(data)`` to build
    from lists. Attributes: ``data`` (the array), ``grad`` (a Tensor or None), ``requires_grad``,
    ``grad_fn`` (the op that made it, None for leaves).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_vb", "_hooks", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = data if isinstance(data, np.ndarray) and dtype is None else _to_array(data, dtype)
        self.grad = None
        self._ctx = None
        self._vb = [0]
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- basic attributes -------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        """The ``ember.device`` holding the data (``device(type='cpu')`` for NumPy arrays)."""
        d = self.data
        return _CPU if type(d) is np.ndarray else _backend.device_of(d)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def _version(self):
        return self._vb[0]

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return self.data.size

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self):
        """The underlying array (shared, not copied). Fails on a tensor that requires grad,
        as in PyTorch, so a graph is never silently cut: call ``.detach().numpy()``."""
        if self.requires_grad:
            raise RuntimeError("numpy(): this tensor requires grad; call tensor.detach().numpy()")
        if type(self.data) is not np.ndarray:
            raise TypeError(f"numpy(): can't convert a tensor on {self.device} to NumPy; copy it "
                            "to the host first with tensor.cpu().numpy()")
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                             f"number, this one has shape {self.data.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        if type(self.data) is not np.ndarray:
            raise TypeError(f"can't convert a tensor on {self.device} to a NumPy array "
                            "implicitly; use tensor.cpu() first")
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is "
                             "ambiguous; use .any() or .all()")
        return bool(self.data)

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data)

    def __repr__(self):
        body = np.array2string(_backend.to_host(self.data), separator=", ", precision=4,
                               prefix="tensor(")
        extra = []
        if self.data.dtype != DEFAULT_FLOAT and self.data.dtype != np.int64:
            extra.append(f"dtype={self.data.dtype}")
        if type(self.data) is not np.ndarray:
            extra.append(f"device='{self.device}'")
        if self._ctx is not None:
            extra.append(f"grad_fn=<{self._ctx.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __hash__(self):
        return id(self)

    # ---- autograd -----------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and not _is_float(self.data.dtype):
            raise RuntimeError(f"only floating point tensors can require gradients, "
                               f"this one is {self.data.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A tensor sharing the same data, cut from the graph."""
        t = _new(Tensor)
        t.data, t.grad, t.requires_grad, t._ctx, t._vb, t._hooks = \
            self.data, None, False, None, self._vb, None
        return t

    def detach_(self):
        self._ctx = None
        self.requires_grad = False
        return self

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed;
        a returned tensor replaces the gradient. Returns a handle with ``.remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        if self._hooks is None:
            self._hooks = []
        if self._hooks and getattr(self._hooks[-1], "_retains", False):
            self._hooks.insert(-1, hook)  # retain_grad's hook stays last
        else:
            self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after a backward has added its gradient to this leaf's
        ``.grad`` (PyTorch's name). Returns a handle with ``.remove()``."""
        from .autograd.engine import register_post_accumulate_grad_hook
        return register_post_accumulate_grad_hook(self, hook)

    def retain_grad(self):
        """Keep ``.grad`` on a non-leaf tensor after backward (leaves always keep it). Once is
        enough (a second call changes nothing); the kept gradient is the one left by all the
        tensor's hooks, also those registered later (PyTorch's order)."""
        if self._ctx is None or self.retains_grad:
            return
        ref = self

        def keep(g):
            ref.grad = Tensor(g.data.copy()) if ref.grad is None else Tensor(ref.grad.data + g.data)

        keep._retains = True
        self.register_hook(keep)

    @property
    def retains_grad(self) -> bool:
        """True on a non-leaf tensor after :meth:`retain_grad`."""
        return bool(self._hooks) and getattr(self._hooks[-1], "_retains", False)

    def backward(self, gradient=None, retain_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad and add it to ``leaf.grad``.
        ``gradient`` is d(loss)/d(self); it may be omitted only when self is a scalar."""
        global _run_backward
        if _run_backward is None:  # bound once: an import statement per call costs ~2 us
            from .autograd.engine import run_backward as _run_backward
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn. "
                               "Create the inputs with requires_grad=True (or use parameters of a "
                               "module), and don't compute it inside ember.no_grad().")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward(): grad can be implicitly created only for scalar "
                                   f"outputs, this one has shape {self.data.shape}. Reduce it "
                                   "first (e.g. y.sum().backward()) or pass the gradient: "
                                   "y.backward(gradient).")
            d = self.data
            if d.__class__ is np.ndarray:
                if d.ndim == 0:  # a fresh copy of a cached 0-d one (a copy is the cheapest
                    # way to make it): the array can reach a hook, or a leaf's .grad through an
                    # identity rule (clone), whose owner may write to it in place
                    g = _ONES.get(d.dtype)
                    if g is None:
                        g = _ONES[d.dtype] = np.array(1, d.dtype)
                    g = g.copy()
                else:
                    g = np.ones(d.shape, d.dtype)
            else:
                g = _backend.get_array_module(d).ones(d.shape, d.dtype)
        else:
            g = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient,
                                                                              self.data.dtype)
            if g.dtype != self.data.dtype:  # cast to the tensor's dtype, as PyTorch
                g = g.astype(self.data.dtype)
            g = _backend.move(g, self.device)
            if g.shape != self.data.shape:
                raise RuntimeError(f"backward(): gradient has shape {g.shape} but the tensor "
                                   f"has shape {self.data.shape}")
        _run_backward([self], [g], retain_graph=retain_graph)

    # ---- arithmetic ---------------------------------------------------------------------
    def __add__(self, o):
        return _ops.Add.apply(self, o)

    def __radd__(self, o):
        return _ops.Add.apply(o, self)

    def __sub__(self, o):
        return _ops.Sub.apply(self, o)

    def __rsub__(self, o):
        return _ops.Sub.apply(o, self)

    def __mul__(self, o):
        return _ops.Mul.apply(self, o)

    def __rmul__(self, o):
        return _ops.Mul.apply(o, self)

    def __truediv__(self, o):
        return _ops.Div.apply(self, o)

    def __rtruediv__(self, o):
        return _ops.Div.apply(o, self)

    def __pow__(self, o):
        return _ops.Pow.apply(self, o)

    def __rpow__(self, o):
        return _ops.Pow.apply(o, self)

    def __matmul__(self, o):
        return _ops.MatMul.apply(self, o)

    def __rmatmul__(self, o):
        return _ops.MatMul.apply(o, self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.Abs.apply(self)

    def __floordiv__(self, o):
        return _ops.FloorDivide.apply(self, o)

    def __mod__(self, o):
        return _ops.Remainder.apply(self, o)

    # comparisons: not differentiable, give bool tensors
    def __eq__(self, o):
        return _ops.Equal.apply(self, o)

    def __ne__(self, o):
        return _ops.NotEqual.apply(self, o)

    def __lt__(self, o):
        return _ops.Less.apply(self, o)

    def __le__(self, o):
        return _ops.LessEqual.apply(self, o)

    def __gt__(self, o):
        return _ops.Greater.apply(self, o)

    def __ge__(self, o):
        return _ops.GreaterEqual.apply(self, o)

    def __and__(self, o):
        return _ops.BitwiseAnd.apply(self, o)

    def __or__(self, o):
        return _ops.BitwiseOr.apply(self, o)

    def __xor__(self, o):
        return _ops.BitwiseXor.apply(self, o)

    def __invert__(self):
        return _ops.BitwiseNot.apply(self)

    # ---- in place -----------------------------------------------------------------------
    def _inplace(self, name, fn, other=None):
        """Apply ``fn(array, other_array)`` in place when no graph needs recording; the version
        bump lets backward detect that a saved array changed."""
        from .autograd import grad_mode
        if grad_mode._enabled and (self.requires_grad or
                                   (isinstance(other, Tensor) and other.requires_grad)):
            if self._ctx is None and self.requires_grad:
                raise RuntimeError(
                    f"{name}: a leaf tensor that requires grad is being changed in place while "
                    "the graph is recorded. Wrap parameter updates in `with ember.no_grad():`.")
            raise RuntimeError(
                f"{name}: in-place change of a tensor that is part of the autograd graph. "
                "Write it out of place (y = y + b), or do it under ember.no_grad().")
        fn(self.data, _data(other))
        self._vb[0] += 1
        return self

    def add_(self, other, alpha=1):
        if alpha != 1:
            other = _data(other) * alpha
        return self._inplace("add_", _iadd, other)

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = _data(other) * alpha
        return self._inplace("sub_", _isub, other)

    def mul_(self, other):
        return self._inplace("mul_", _imul, other)

    def div_(self, other):
        return self._inplace("div_", _idiv, other)

    def zero_(self):
        return self._inplace("zero_", _fill, 0)

    def fill_(self, value):
        return self._inplace("fill_", _fill, value)

    def copy_(self, src):
        """Copy ``src``'s values in (broadcast, cast, and moved across devices as PyTorch)."""
        src_arr = _data(src)
        if _backend.is_array(src_arr) and type(src_arr) is not type(self.data):
            src_arr = _backend.move(src_arr, self.device)
        src_shape = getattr(src_arr, "shape", None)
        if src_shape is None:
            src_shape = np.shape(src_arr)
        if src_shape != self.data.shape:
            try:
                np.broadcast_to(src_arr, self.data.shape)
            except ValueError:
                raise ValueError(f"copy_: source shape {src_shape} does not broadcast "
                                 f"to {self.data.shape}") from None
        return self._inplace("copy_", _copyto, src_arr)

    def clamp_(self, min=None, max=None):
        return self._inplace("clamp_", lambda a, _: np.clip(a, min, max, out=a))

    def __iadd__(self, o):
        return self._iop("+=", _iadd, _ops.Add, o)

    def __isub__(self, o):
        return self._iop("-=", _isub, _ops.Sub, o)

    def __imul__(self, o):
        return self._iop("*=", _imul, _ops.Mul, o)

    def __itruediv__(self, o):
        return self._iop("/=", _idiv, _ops.Div, o)

    def _iop(self, name, fn, op, o):
        """``a += b``: in place when no graph is recorded (the lectures' ``w -= lr * w.grad``
        under no_grad); when it must be recorded, the name is rebound to a new tensor
        (``a = a + b``), which keeps every gradient right."""
        from .autograd import grad_mode
        if grad_mode._enabled and (self.requires_grad or
                                   (isinstance(o, Tensor) and o.requires_grad)):
            if self._ctx is None and self.requires_grad:
                return self._inplace(name, fn, o)  # raises the leaf error
            return op.apply(self, o)
        return self._inplace(name, fn, o)

    def __setitem__(self, index, value):
        from .autograd import grad_mode
        if grad_mode._enabled and self.requires_grad:
            raise RuntimeError("index assignment on a tensor that requires grad; do it under "
                               "ember.no_grad() or on a tensor that needs no grad")
        self.data[_ops.normalize_index(index, Tensor)] = _data(value)
        self._vb[0] += 1

    def __getitem__(self, index):
        template, arrays = _ops.split_index(index, Tensor)
        if arrays:
            return _ops.GetItem.apply(self, *arrays, index=template)
        return _ops.GetItem.apply(self, index=template)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    # ---- unary math -------------------------------------------------------------------
    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def sqrt(self):
        return _ops.Sqrt.apply(self)

    def sin(self):
        return _ops.Sin.apply(self)

    def cos(self):
        return _ops.Cos.apply(self)

    def tanh(self):
        return _ops.Tanh.apply(self)

    def sigmoid(self):
        return _ops.Sigmoid.apply(self)

    def relu(self):
        return _ops.Relu.apply(self)

    def abs(self):
        return _ops.Abs.apply(self)

    def neg(self):
        return _ops.Neg.apply(self)

    def pow(self, exponent):
        return _ops.Pow.apply(self, exponent)

    def clip(self, min=None, max=None):
        """Limit values to [min, max]. Tensor bounds that require grad get their gradient where
        they are the result; at ties the gradient goes to the input (as ``torch.clamp``, unlike
        maximum/minimum, which share it). Constant bounds use one fused primitive."""
        if (isinstance(min, Tensor) and min.requires_grad) or \
                (isinstance(max, Tensor) and max.requires_grad):
            out = self  # comparisons as primitives, so a trace keeps them
            if min is not None:
                out = _ops.Where.apply(_ops.Less.apply(out, min), min, out)
            if max is not None:
                out = _ops.Where.apply(_ops.Greater.apply(out, max), max, out)
            return out
        return _ops.Clip.apply(self, min, max)

    clamp = clip

    def maximum(self, other):
        return _ops.Maximum.apply(self, other)

    def minimum(self, other):
        return _ops.Minimum.apply(self, other)

    def matmul(self, other):
        return _ops.MatMul.apply(self, other)

    def add(self, o):
        return _ops.Add.apply(self, o)

    def sub(self, o):
        return _ops.Sub.apply(self, o)

    def mul(self, o):
        return _ops.Mul.apply(self, o)

    def div(self, o):
        return _ops.Div.apply(self, o)

    # piecewise constant: in the graph with a zero gradient (as PyTorch)
    def sign(self):
        return _ops.PiecewiseConstant.apply(self, fn="sign")

    def floor(self):
        return _ops.PiecewiseConstant.apply(self, fn="floor")

    def ceil(self):
        return _ops.PiecewiseConstant.apply(self, fn="ceil")

    def trunc(self):
        return _ops.PiecewiseConstant.apply(self, fn="trunc")

    def round(self, decimals=0):
        return _ops.PiecewiseConstant.apply(self, fn="round", decimals=int(decimals))

    # non-differentiable

    def isnan(self):
        return _ops.IsNan.apply(self)

    def isfinite(self):
        return _ops.IsFinite.apply(self)

    def any(self):
        return _ops.Any.apply(self)

    def all(self):
        return _ops.All.apply(self)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        d = _dim_arg(dim, axis, "argmax")
        return _ops.ArgMax.apply(self, axis=d, keepdims=_keep_arg(keepdim, keepdims))

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        d = _dim_arg(dim, axis, "argmin")
        return _ops.ArgMax.apply(self, axis=d, keepdims=_keep_arg(keepdim, keepdims), minimum=True)

    def astype(self, dtype):
        """Cast; differentiable between floating types, a plain (graph-cutting) cast otherwise."""
        dtype = _as_dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if _is_float(dtype):
            return _ops.Cast.apply(self, dtype=dtype)
        return _ops.Cast.apply(self.detach() if self.requires_grad else self, dtype=dtype)

    type = astype

    def to(self, *args, **kwargs):
        """PyTorch's ``to``: ``x.to(device)``, ``x.to(dtype)``, ``x.to(device, dtype)``,
        ``x.to(other)`` (other's device and dtype), ``x.to(device=..., dtype=...)``.
        Differentiable; returns ``self`` when nothing changes (``copy=True`` forces a copy)."""
        dev, dtype, copy = _parse_to(args, kwargs)
        out = self
        if dev is not None and not _same_place(self.device, dev):
            out = _to_device(out, dev)
        if dtype is not None:
            out = out.astype(dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self):
        """This tensor on the host (``self`` when it already is)."""
        return self.to(_CPU)

    def cuda(self, device=None):
        """This tensor on a CUDA GPU (``cuda:0`` unless ``device`` is given)."""
        return self.to(_as_device("cuda" if device is None else device))

    def half(self):
        return self.astype(np.float16)

    def bfloat16(self):
        return self.astype("bfloat16")

    def is_floating_point(self):
        return _is_float(self.data.dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    def int(self):
        return self.astype(np.int32)

    def bool(self):
        return self.astype(np.bool_)

    def clone(self):
        return _ops.Mul.apply(self, 1) if self.requires_grad else Tensor(self.data.copy())

    # ---- reductions -------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        t = self if dtype is None else self.astype(dtype)
        return _ops.Sum.apply(t, axis=_dim_arg(dim, axis, "sum"), keepdims=_keep_arg(keepdim, keepdims))

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.Mean.apply(self, axis=_dim_arg(dim, axis, "mean"),
                               keepdims=_keep_arg(keepdim, keepdims))

    def var(self, dim=None, unbiased=True, keepdim=False, *, axis=None, keepdims=None,
            correction=None, ddof=None):
        """Variance; unbiased (N-1) by default as PyTorch. ``correction``/``ddof`` override."""
        c = correction if correction is not None else ddof if ddof is not None else int(unbiased)
        return _ops.Var.apply(self, axis=_dim_arg(dim, axis, "var"), correction=c,
                              keepdims=_keep_arg(keepdim, keepdims))

    def std(self, dim=None, unbiased=True, keepdim=False, *, axis=None, keepdims=None,
            correction=None, ddof=None):
        c = correction if correction is not None else ddof if ddof is not None else int(unbiased)
        return _ops.Std.apply(self, axis=_dim_arg(dim, axis, "std"), correction=c,
                              keepdims=_keep_arg(keepdim, keepdims))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Like PyTorch: ``x.max()`` is the max value; ``x.max(dim)`` is (values, indices).
        With NumPy's ``axis=`` it returns values only, as NumPy does. ``x.max(other_tensor)``
        is the elementwise maximum."""
        if isinstance(dim, Tensor):
            return _ops.Maximum.apply(self, dim)
        return _extreme(self, dim, keepdim, axis, keepdims, minimum=False)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Like :meth:`max`, for the minimum."""
        if isinstance(dim, Tensor):
            return _ops.Minimum.apply(self, dim)
        return _extreme(self, dim, keepdim, axis, keepdims, minimum=True)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.Amax.apply(self, axis=_dim_arg(dim, axis, "amax"),
                               keepdims=_keep_arg(keepdim, keepdims))

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.Amax.apply(self, axis=_dim_arg(dim, axis, "amin"),
                               keepdims=_keep_arg(keepdim, keepdims), minimum=True)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.LogSumExp.apply(self, axis=_dim_arg(dim, axis, "logsumexp"),
                                    keepdims=_keep_arg(keepdim, keepdims))

    def prod(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.Prod.apply(self, axis=_dim_arg(dim, axis, "prod"),
                               keepdims=_keep_arg(keepdim, keepdims))

    # ---- shape --------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _shape_args(shape)
        if shape == self.data.shape:
            return self
        return _ops.Reshape.apply(self, shape=shape)

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self.data.ndim
        if nd == 0:
            return self.reshape(1)
        s, e = start_dim % nd, end_dim % nd
        shp = self.data.shape
        n = 1
        for d in shp[s:e + 1]:
            n *= d
        return self.reshape(shp[:s] + (n,) + shp[e + 1:])

    def squeeze(self, dim=None, *, axis=None):
        d = _dim_arg(dim, axis, "squeeze")
        shp = self.data.shape
        if d is None:
            new = tuple(n for n in shp if n != 1)
        else:
            dims = {x % len(shp) for x in (d if isinstance(d, (tuple, list)) else (d,))}
            new = tuple(n for i, n in enumerate(shp) if not (i in dims and n == 1))
        return self.reshape(new)

    def unsqueeze(self, dim):
        shp = list(self.data.shape)
        dim = dim if dim >= 0 else dim + len(shp) + 1
        if not 0 <= dim <= len(shp):
            raise IndexError(f"unsqueeze: dim {dim} out of range for {len(shp)} dims")
        shp.insert(dim, 1)
        return self.reshape(tuple(shp))

    def transpose(self, *dims):
        """``x.transpose(d0, d1)`` swaps two dims (PyTorch); ``x.transpose()`` reverses them and
        ``x.transpose(perm)`` permutes (NumPy)."""
        nd = self.data.ndim
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if len(dims) == 2 and nd != 2 or (len(dims) == 2 and nd == 2):
            perm = list(range(nd))
            a, b = dims[0] % nd, dims[1] % nd
            perm[a], perm[b] = perm[b], perm[a]
            return _ops.Permute.apply(self, dims=tuple(perm))
        return _ops.Permute.apply(self, dims=dims or None)

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _ops.Permute.apply(self, dims=dims)

    @property
    def T(self):
        return _ops.Permute.apply(self, dims=None)

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        sizes = _shape_args(sizes)
        shp = self.data.shape
        lead = len(sizes) - len(shp)
        full = tuple(shp[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        return _ops.Expand.apply(self, shape=full)

    def expand_as(self, other):
        return self.expand(other.shape)

    def split(self, split_size_or_sections, dim=0):
        return _ops_split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        n = self.data.shape[dim]
        size = -(-n // chunks)
        return _ops_split(self, size, dim)

    def contiguous(self):
        return self

    def masked_fill(self, mask, value):
        if not isinstance(mask, Tensor):
            mask = np.asarray(mask, bool)
        # the fill value is a scalar constant input (not a tensor; a NumPy scalar, which
        # device arrays accept as CuPy does): it may be -inf on purpose
        return _ops.Where.apply(mask, self.data.dtype.type(value), self)


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _iadd(a, b):
    a += b


def _isub(a, b):
    a -= b


def _imul(a, b):
    a *= b


def _idiv(a, b):
    a /= b


def _fill(a, v):
    a.fill(v)


def _copyto(a, b):
    np.copyto(a, b, casting="unsafe")


def _parse_to(args, kwargs):
    """(device or None, dtype or None, copy) from ``to``'s PyTorch-style arguments."""
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to(): unexpected keyword argument(s) {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.data.dtype
        elif a is None:
            continue
        elif isinstance(a, (str, _Device)) or (isinstance(a, int) and not isinstance(a, bool)):
            try:
                dev = _as_device(a)
            except RuntimeError as e:
                try:
                    dtype = _as_dtype(a)
                except TypeError:
                    raise TypeError(f"to(): {a!r} is neither a device ('cpu', 'cuda', "
                                    f"'cuda:0') nor a dtype. ({e})") from None
        else:
            try:
                dtype = _as_dtype(a)
            except TypeError:
                raise TypeError(f"to(): expected a device, a dtype or a tensor, got "
                                f"{a!r}") from None
    if dev is not None:
        dev = _as_device(dev)
    if dtype is not None:
        dtype = _as_dtype(dtype)
    return dev, dtype, copy


def _to_device(t, dev):
    if t.requires_grad:
        return _ops.device.ToDevice.apply(t, device=dev)
    return Tensor(_backend.move(t.data, dev))


def _extreme(t, dim, keepdim, axis, keepdims, minimum):
    keep = _keep_arg(keepdim, keepdims)
    if dim is None:  # full reduction or NumPy's axis=: values only
        return _ops.Amax.apply(t, axis=axis, keepdims=keep, minimum=minimum)
    # the gradient goes to the returned index only (ties: the first, as PyTorch), so the
    # values are gathered at the indices rather than reduced (Amax shares ties evenly)
    if t.data.ndim == 0:  # dim 0 or -1 of a 0-d tensor: the value itself, index 0
        values = _ops.Amax.apply(t, axis=dim, keepdims=keep, minimum=minimum)
        return _ops.MinMaxResult(values, Tensor(np.asarray(0)))
    (axis,) = _ops.normalize_axis(int(dim), t.data.ndim)
    index = _ops.ArgMax.apply(t, axis=axis, keepdims=True, minimum=minimum)  # a primitive
    values = _ops.TakeAlongAxis.apply(t, index, axis=axis, keepdims=keep)
    return _ops.MinMaxResult(values, index if keep else index.squeeze(axis))


def _ops_split(t, size, dim):
    n = t.data.shape[dim]
    dim = dim % t.data.ndim
    if isinstance(size, int):
        if size <= 0:
            raise ValueError(f"split: split size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = list(size)
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but dim {dim} has "
                             f"size {n}")
    out, start = [], 0
    for s in sizes:
        idx = (slice(None),) * dim + (slice(start, start + s),)
        out.append(t[idx])
        start += s
    return tuple(out)


from .devices import device as _Device, same_place as _same_place  # noqa: E402
