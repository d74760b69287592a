"""Module: the base class of layers and models (PyTorch's API), and the containers
Sequential, ModuleList, ModuleDict, Identity.

A Module holds Parameters, buffers (non-learnable state such as BatchNorm's running mean) and
sub-modules, registered by plain attribute assignment. ``model(x)`` runs forward pre-hooks,
``forward``, then forward hooks (how the training doctor and ``ember.summary`` watch layers).
"""
from _thread import _local  # threading.local (threading.py itself is not needed)
from collections import OrderedDict

import numpy as np

from .. import backend as _backend
from ..autograd import no_grad
from ..dtypes import is_floating_point
from ..tensor import Tensor
from .parameter import Parameter


def _convert(a, dev, dtype):
    if dev is not None:
        a = _backend.move(a, dev)
    if dtype is not None and is_floating_point(a.dtype) and a.dtype != dtype:
        a = a.astype(dtype)
    return a


class _Running(_local):
    def __init__(self):
        self.stack = []


_running = _Running()
_tracking = 0  # > 0 while some track_modules() is active: Module.__call__ keeps the stack


class track_modules:
    """While active, ``Module.__call__`` keeps a per-thread stack of the modules whose forward
    is running, read with :func:`running_modules` (how the anomaly guard and the FLOP counter
    name the layer an op runs in). Nests; free when no one tracks."""

    def __enter__(self):
        global _tracking
        _tracking += 1
        return self

    def __exit__(self, *exc):
        global _tracking
        _tracking -= 1
        return False


def running_modules():
    """The modules whose forward is running in this thread, outermost first (empty unless a
    :class:`track_modules` is active)."""
    return tuple(_running.stack)


class RemovableHandle:
    """Returned by ``register_*_hook``; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Module:
    """Base class for all layers and models.

    Subclasses set attributes in ``__init__`` (after ``super().__init__()``) and define
    ``forward``. Example::

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(784, 100)
                self.fc2 = nn.Linear(100, 10)

            def forward(self, x):
                return self.fc2(F.relu(self.fc1(x)))
    """

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()

    # ---- registration -------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before "
                                     f"Module.__init__() call (call super().__init__() first)")
            object.__setattr__(self, name, value)
            return
        params, mods, bufs = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            self._drop(name)
            params[name] = value
        elif isinstance(value, Module):
            self._drop(name)
            mods[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                "(nn.Parameter or None expected)")
            params[name] = None
        elif name in mods:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"'{name}' (nn.Module or None expected)")
            mods[name] = None
        elif name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' "
                                "(Tensor or None expected)")
            bufs[name] = value
        else:
            object.__setattr__(self, name, value)

    def _drop(self, name):
        d = self.__dict__
        d.pop(name, None)
        for k in ("_parameters", "_modules", "_buffers"):
            d[k].pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for k in ("_parameters", "_buffers", "_modules"):
            store = d.get(k)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for k in ("_parameters", "_buffers", "_modules"):
            if name in d[k]:
                del d[k][name]
                d["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be an nn.Parameter or None, "
                            f"got {type(param).__name__}")
        self._drop(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Non-learnable state saved in ``state_dict`` (unless ``persistent=False``)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self._drop(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        if not isinstance(name, str) or "." in name or name == "":
            raise KeyError(f"module name must be a non-empty string without '.', got {name!r}")
        self._drop(name)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule '{part}'")
            mod = mod._modules[part]
        return mod

    # ---- forward ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        if _tracking:  # a mode wants to know which layer an op runs in (see track_modules)
            stack = _running.stack
            stack.append(self)
            try:
                return self._call_impl(args, kwargs)
            finally:
                stack.pop()
        d = self.__dict__
        if d.get("_forward_pre_hooks") or d.get("_forward_hooks"):
            return self._call_impl(args, kwargs)
        return self.forward(*args, **kwargs)  # the common case: no hooks, one frame less

    def _call_impl(self, args, kwargs):
        d = self.__dict__
        if not d.get("_forward_pre_hooks") and not d.get("_forward_hooks"):  # the common case
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            r = hook(self, args, out)
            if r is not None:
                out = r
        return out

    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` runs after every forward; returning a value replaces
        the output. Returns a handle with ``.remove()``."""
        h = RemovableHandle(self._forward_hooks)
        self._forward_hooks[h.id] = hook
        return h

    def register_forward_pre_hook(self, hook):
        """``hook(module, inputs)`` runs before forward; returning a value replaces the inputs."""
        h = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[h.id] = hook
        return h

    # ---- traversal ----------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                       remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, v in getattr(m, store).items():
                if v is None or id(v) in seen:
                    continue
                seen.add(id(v))
                yield mp + ("." if mp else "") + name, v

    def named_parameters(self, prefix="", recurse=True):
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("train(mode): mode must be a bool")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter of this module."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0

    # ---- devices and dtypes -------------------------------------------------------------
    def to(self, *args, **kwargs):
        """Move and/or cast every parameter and buffer in place, as PyTorch:
        ``m.to(device)``, ``m.to(dtype)``, ``m.to(device, dtype)``, ``m.to(tensor)``.
        Only floating tensors are cast; integer buffers (counters) keep their dtype.
        Parameters stay the same objects (their ``.data`` and ``.grad`` are replaced), so
        references held elsewhere stay valid; optimizer state is not moved: build the optimizer
        after moving the model, or load its state_dict afterwards (it lands on each parameter's
        device). Returns self."""
        from ..tensor import _parse_to
        dev, dtype, _ = _parse_to(args, dict(kwargs))
        if dtype is not None and not is_floating_point(dtype):
            raise TypeError(f"{type(self).__name__}.to: only floating dtypes are accepted, got "
                            f"{dtype}")
        return self._apply_arrays(lambda a: _convert(a, dev, dtype))

    def _apply_arrays(self, fn):
        """Replace the array of every parameter, gradient and buffer by ``fn(array)``."""
        seen = set()
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None or id(t) in seen:
                        continue
                    seen.add(id(t))
                    new = fn(t.data)
                    if new is not t.data:
                        t.data = new
                        t._vb[0] += 1
                    if t.grad is not None:
                        t.grad.data = fn(t.grad.data)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def half(self):
        """Cast floating parameters and buffers to float16."""
        return self.to(np.float16)

    def bfloat16(self):
        """Cast floating parameters and buffers to bfloat16 (needs ml_dtypes)."""
        return self.to("bfloat16")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ---- state --------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Ordered mapping name -> tensor of every parameter and persistent buffer. The tensors
        share memory with the module (detached unless ``keep_vars``)."""
        out = OrderedDict() if destination is None else destination
        for mp, m in self.named_modules(prefix=prefix.rstrip(".")):
            pre = mp + ("." if mp else "")
            for name, p in m._parameters.items():
                if p is not None:
                    out[pre + name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[pre + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into this module's parameters and buffers, in place.

        With ``strict`` (default), missing or unexpected keys are an error; shape mismatches
        always are. The error lists every problem. Returns (missing_keys, unexpected_keys).
        All or nothing: every value is checked before the first is copied."""
        ready, missing, unexpected = self._check_state_dict(state_dict, strict)
        with no_grad():
            for t, v in ready:
                t.copy_(v)
        return _IncompatibleKeys(missing, unexpected)

    def _check_state_dict(self, state_dict, strict=True):
        """Validate ``state_dict`` against this module without changing anything; returns
        ([(tensor, array to copy in)], missing, unexpected) or raises RuntimeError."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"load_state_dict: expected a dict of arrays, got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched, ready = [], []
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                v = v.data if isinstance(v, Tensor) else v
                if not hasattr(v, "shape") or not hasattr(v, "dtype"):
                    # lists and scalars; device arrays keep their own type (np.asarray would
                    # pull them to the host)
                    try:
                        v = np.asarray(v)
                    except (TypeError, ValueError):  # ragged lists and the like
                        v = np.asarray(None)
                kind = getattr(v.dtype, "kind", "O")
                if kind not in "biufV":  # V: bfloat16 (ml_dtypes)
                    mismatched.append(f"{k}: checkpoint holds {type(state_dict[k]).__name__} "
                                      f"of dtype {v.dtype}, not numbers")
                elif tuple(v.shape) != t.shape:
                    mismatched.append(f"{k}: checkpoint has shape {tuple(v.shape)}, model has "
                                      f"{t.shape}")
                else:
                    ready.append((t, v))
        problems = []
        if strict and missing:
            problems.append("Missing key(s): " + ", ".join(missing))
        if strict and unexpected:
            problems.append("Unexpected key(s): " + ", ".join(unexpected))
        if mismatched:
            problems.append("Size mismatch: " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                               + "\n  ".join(problems))
        return ready, missing, unexpected

    # ---- repr ---------------------------------------------------------------------------
    def extra_repr(self):
        """One-line description of the module's configuration, shown by repr."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            mod_str = _addindent(repr(m), 2)
            lines.append(f"({name}): {mod_str}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


class _IncompatibleKeys(tuple):
    def __new__(cls, missing, unexpected):
        t = super().__new__(cls, (missing, unexpected))
        t.missing_keys, t.unexpected_keys = missing, unexpected
        return t

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


def _addindent(s, n):
    first, *rest = s.split("\n")
    if not rest:
        return s
    return first + "\n" + "\n".join(" " * n + line for line in rest)


class Identity(Module):
    """Returns its input unchanged (placeholder layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class _NumberedModules:
    """append / extend / insert for containers whose sub-modules are named 0, 1, 2, ..."""

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)
        return self


class Sequential(_NumberedModules, Module):
    """Modules applied in order: ``Sequential(m1, m2, ...)`` or ``Sequential(OrderedDict(...))``.
    Supports indexing (``seq[0]``, ``seq[1:]``), ``len`` and ``append``."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, x):
        if _tracking:
            for m in self._modules.values():
                x = m(x)
            return x
        call = Module.__call__
        for m in self._modules.values():
            d = m.__dict__
            # Module.__call__'s common case inline (no hooks, __call__ not overridden): a
            # frame and an argument tuple less per layer
            if m.__class__.__call__ is call and not d.get("_forward_pre_hooks") and \
                    not d.get("_forward_hooks"):
                x = m.forward(x)
            else:
                x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _key(self, idx):
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of "
                             f"length {n}")
        return list(self._modules)[idx % n]

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module):
        self.add_module(self._key(idx), module)

    def __delitem__(self, idx):
        keys = list(self._modules)[idx] if isinstance(idx, slice) else [self._key(idx)]
        for k in keys:
            del self._modules[k]



class ModuleList(_NumberedModules, Module):
    """A list of modules whose parameters are registered (a plain list would hide them)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for ModuleList of length {n}")
        return self._modules[str(idx % n)]

    def __setitem__(self, idx, module):
        self.add_module(str(idx % len(self._modules)), module)


    def forward(self, *args):
        raise NotImplementedError("ModuleList has no forward(); iterate over it in your "
                                  "module's forward")


class ModuleDict(Module):
    """A dict of modules whose parameters are registered."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self.add_module(k, m)

    def pop(self, key):
        return self._modules.pop(key)

    def forward(self, *args):
        raise NotImplementedError("ModuleDict has no forward(); index it in your module's "
                                  "forward")
