"""The Tensor: an n-d array (``.data``, a NumPy array) that can record the ops applied to it so
``backward()`` can compute gradients.

Names and meanings follow PyTorch (``x.sum(dim, keepdim)``, ``x.view``, ``x.grad``); NumPy
spellings (``axis``, ``keepdims``, ``astype``) are accepted too.
"""
import numpy as np

DEFAULT_FLOAT = np.float32
_new = object.__new__


def _to_array(data, dtype=None):
    """Array for ``ember.tensor``: Python floats become float32 (the default float type),
    Python ints int64; NumPy arrays keep their dtype unless ``dtype`` is given."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        arr = data
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
            data = _unwrap(data)
        arr = np.asarray(data)
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(DEFAULT_FLOAT)
    if dtype is not None:
        arr = arr.astype(np.dtype(dtype), copy=False)
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
        return "cpu" if isinstance(self.data, np.ndarray) else "cuda"

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
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                             f"number, this one has shape {self.data.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
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
        body = np.array2string(self.data, separator=", ", precision=4, prefix="tensor(")
        extra = []
        if self.data.dtype != DEFAULT_FLOAT and self.data.dtype != np.int64:
            extra.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extra.append(f"grad_fn=<{self._ctx.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __hash__(self):
        return id(self)

    # ---- autograd -----------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind not in "fc":
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
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def retain_grad(self):
        """Keep ``.grad`` on a non-leaf tensor after backward (leaves always keep it)."""
        if self._ctx is None:
            return
        ref = self

        def keep(g):
            ref.grad = Tensor(g.data.copy()) if ref.grad is None else Tensor(ref.grad.data + g.data)

        self.register_hook(keep)

    def backward(self, gradient=None, retain_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad and add it to ``leaf.grad``.
        ``gradient`` is d(loss)/d(self); it may be omitted only when self is a scalar."""
        from .autograd.engine import run_backward
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
            g = np.ones(self.data.shape, self.data.dtype)
        else:
            g = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient,
                                                                              self.data.dtype)
            if g.shape != self.data.shape:
                raise RuntimeError(f"backward(): gradient has shape {g.shape} but the tensor "
                                   f"has shape {self.data.shape}")
        run_backward([self], [g], retain_graph=retain_graph)

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
        return Tensor(self.data // _data(o))

    def __mod__(self, o):
        return Tensor(self.data % _data(o))

    # comparisons: not differentiable, give bool tensors
    def __eq__(self, o):
        return Tensor(self.data == _data(o))

    def __ne__(self, o):
        return Tensor(self.data != _data(o))

    def __lt__(self, o):
        return Tensor(self.data < _data(o))

    def __le__(self, o):
        return Tensor(self.data <= _data(o))

    def __gt__(self, o):
        return Tensor(self.data > _data(o))

    def __ge__(self, o):
        return Tensor(self.data >= _data(o))

    def __and__(self, o):
        return Tensor(self.data & _data(o))

    def __or__(self, o):
        return Tensor(self.data | _data(o))

    def __xor__(self, o):
        return Tensor(self.data ^ _data(o))

    def __invert__(self):
        return Tensor(~self.data)

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
        src_arr = _data(src)
        if np.shape(src_arr) != self.data.shape:
            try:
                np.broadcast_to(src_arr, self.data.shape)
            except ValueError:
                raise ValueError(f"copy_: source shape {np.shape(src_arr)} does not broadcast "
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
        return _ops.GetItem.apply(self, index=_ops.normalize_index(index, Tensor))

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
        """Limit values to [min, max]. Tensor bounds that require grad get their gradient
        (computed as maximum/minimum); constant bounds use one fused primitive."""
        if (isinstance(min, Tensor) and min.requires_grad) or \
                (isinstance(max, Tensor) and max.requires_grad):
            out = self if min is None else _ops.Maximum.apply(self, min)
            return out if max is None else _ops.Minimum.apply(out, max)
        return _ops.Clip.apply(self, lo=_data(min), hi=_data(max))

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
        return Tensor(np.isnan(self.data))

    def isfinite(self):
        return Tensor(np.isfinite(self.data))

    def any(self):
        return Tensor(np.asarray(self.data.any()))

    def all(self):
        return Tensor(np.asarray(self.data.all()))

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        d = _dim_arg(dim, axis, "argmax")
        return Tensor(np.asarray(np.argmax(self.data, axis=d, keepdims=_keep_arg(keepdim, keepdims))))

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        d = _dim_arg(dim, axis, "argmin")
        return Tensor(np.asarray(np.argmin(self.data, axis=d, keepdims=_keep_arg(keepdim, keepdims))))

    def astype(self, dtype):
        """Cast; differentiable between floating types, a plain (graph-cutting) cast otherwise."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if self.requires_grad and dtype.kind == "f":
            return _ops.Cast.apply(self, dtype=dtype)
        return Tensor(self.data.astype(dtype))

    to = type = astype

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

    def cpu(self):
        return self

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
        mask = _data(mask)
        return _ops.Where.apply(mask, Tensor(np.asarray(value, self.data.dtype)), self)


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
    f = np.argmin if minimum else np.argmax
    index = f(t.data, axis=axis, keepdims=True)
    values = _ops.TakeAlongAxis.apply(t, index, axis=axis, keepdims=keep)
    return _ops.MinMaxResult(values, Tensor(index if keep else np.squeeze(index, axis)))


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


from . import ops as _ops  # noqa: E402  (ops import Tensor; bound after the class exists)
