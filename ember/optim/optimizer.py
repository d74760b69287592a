"""``Optimizer``: the base class of every ember optimizer (PyTorch's interface and semantics).

An optimizer holds ``param_groups`` (a list of dicts: ``{"params": [tensors], "lr": ..., ...}``,
one dict per group so each group can have its own hyperparameters) and ``state`` (a dict
``param -> dict`` of per-parameter buffers such as ``exp_avg``). ``step()`` updates every
parameter whose ``.grad`` is not None, in place on ``param.data``.

Speed: state buffers are NumPy arrays allocated once (on a parameter's first step); the few
temporaries an update needs come from a per-optimizer scratch pool that is reused every step, and
every update is written with ``out=`` ufuncs, so a step allocates no arrays. An update runs on
the calling thread with plain ufuncs and touches no process-wide state (no BLAS calls, no
thread counts), so a step is bit-for-bit repeatable. Parameters are updated one by one (not
flattened into one buffer): users and ``load_state_dict`` may replace ``p.data``, and with a
handful of large tensors the per-tensor Python overhead is a few percent of a step.
"""
import math

import numpy as np

from .. import backend as _backend
from ..dtypes import is_floating_point

from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


def _check(cond, msg):
    if not cond:
        raise ValueError(msg)


def check_nonneg(name, value):
    if isinstance(value, Tensor):
        value = value.item()
    _check(isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
           and math.isfinite(value) and value >= 0,
           f"Invalid {name}: {value!r} (expected a number >= 0)")


def check_unit(name, value, closed=False):
    """0 <= value < 1 (or <= 1 when closed)."""
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and (
        0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0)
    _check(ok, f"Invalid {name}: {value!r} (expected 0 <= {name} {'<=' if closed else '<'} 1)")


def check_betas(betas):
    _check(isinstance(betas, (tuple, list)) and len(betas) == 2,
           f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
    for i, b in enumerate(betas):
        check_unit(f"beta parameter at index {i}", b)


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of leaf tensors, or of dicts ``{"params": ..., <option>: value}``
    defining parameter groups (options missing from a group take their value from
    ``defaults``). Subclasses implement ``step(closure=None)`` and ``_check_group(group)``.
    """

    #: names of state buffers shaped like their parameter (checked by ``load_state_dict``)
    _param_buffers = ()

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        self._pool = {}
        self._views = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got a single {type(params).__name__}; "
                            "wrap it in a list: [param]")
        if isinstance(params, dict):
            params = [params]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets changes between runs; use a list")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, d):
        self.__dict__.update(d)
        self._pool = {}
        self._views = {}

    # ---- groups ------------------------------------------------------------------------
    def _check_group(self, group):
        """Validate a group's hyperparameters (raise ValueError naming the bad one)."""

    def add_param_group(self, param_group):
        """Add a group ``{"params": tensors, <option>: value, ...}`` (e.g. layers to unfreeze
        during fine-tuning, with their own lr)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise ValueError("param_group needs a 'params' entry")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets changes between runs; use a list")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (one computed from others); "
                                 "optimize the leaves it was computed from")
            if p.data.dtype.kind not in "fc":
                raise TypeError(f"can only optimize floating-point tensors, got {p.data.dtype}")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name!r}")
            group.setdefault(name, default)
        ids = set()
        for p in params:
            if id(p) in ids:
                raise ValueError("optimizer contains a parameter group with duplicate "
                                 "parameters")
            ids.add(id(p))
        for g in self.param_groups:
            if any(id(p) in ids for p in g["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        self._check_group(group)
        self.param_groups.append(group)

    # ---- gradients ---------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset gradients: ``p.grad = None`` (default; saves memory and a pass), or fill the
        existing gradient arrays with zeros (``set_to_none=False``)."""
        for group in self.param_groups:
            if set_to_none:
                for p in group["params"]:
                    p.grad = None
            else:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.data[...] = 0

    def _grads(self, group):
        """(param, param array, grad array) for params of ``group`` that have a gradient."""
        out = []
        keep = out.append
        for p in group["params"]:
            g = p.grad
            if g is not None:
                ga = g.data if isinstance(g, Tensor) else np.asarray(g)
                pa = p.data
                if ga.shape != pa.shape:
                    raise RuntimeError(f"{type(self).__name__}: gradient of shape {ga.shape} "
                                       f"for a parameter of shape {pa.shape}")
                keep((p, pa, ga))
        return out

    def _scratch(self, arr, k):
        """The k-th reusable temporary shaped like ``arr`` (no allocation after warm-up).
        The shaped view is cached too: a step asks for it once per parameter."""
        views = self.__dict__.get("_views")
        if views is None:
            views = self.__dict__["_views"] = {}
        vkey = (arr.__class__, arr.dtype, arr.shape, k)
        view = views.get(vkey)
        if view is not None:
            return view
        key = (type(arr), arr.dtype.str, k)
        buf = self._pool.get(key)
        n = arr.size
        if buf is None or buf.size < n:
            xp = _backend.get_array_module(arr)
            buf = self._pool[key] = xp.empty(max(n, 1), arr.dtype)
            views.clear()  # views of the replaced buffer must not be handed out again
        view = views[vkey] = buf[:n].reshape(arr.shape)
        return view

    def _decayed_grad(self, p, g, lr, weight_decay, decoupled, maximize, out):
        """Apply weight decay and return the gradient the update uses. Decoupled (AdamW,
        Loshchilov & Hutter): ``p *= 1 - lr * wd`` in place, gradient unchanged; otherwise
        ``wd * p`` is added to the gradient (L2 regularisation)."""
        if decoupled:
            if weight_decay != 0:
                p *= 1 - lr * weight_decay
            return self._eff_grad(p, g, 0, maximize, out)
        return self._eff_grad(p, g, weight_decay, maximize, out)

    def _eff_grad(self, p, g, weight_decay, maximize, out):
        """The gradient the update uses: ``(-g if maximize else g) + weight_decay * p``
        (written to ``out`` when it differs from ``g``; ``g`` itself is never modified)."""
        if weight_decay != 0:
            np.multiply(p, weight_decay, out=out)
            if maximize:
                np.subtract(out, g, out=out)
            else:
                np.add(out, g, out=out)
            return out
        if maximize:
            np.negative(g, out=out)
            return out
        return g

    @staticmethod
    def _closure_loss(closure):
        if closure is None:
            return None
        from ..autograd.grad_mode import enable_grad
        with enable_grad():
            return closure()

    # ---- state dict --------------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state as plain data: ``{"state": {"<index>": {name: value}},
        "param_groups": [{option: value, ..., "params": [index, ...]}]}``.

        Parameters are referred to by their position (counted across groups in order). Arrays are
        copies (a snapshot), so the result can be saved with ``ember.io.save`` (no pickle) and
        loaded into a fresh optimizer built over the same parameters.
        """
        index = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if id(p) in index:
                state[str(index[id(p)])] = _copy_tree(s)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore from ``state_dict()`` output (possibly after ``ember.io.save``/``load``).
        Raises ValueError when the groups don't match this optimizer's."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError("load_state_dict: expected a dict with 'state' and 'param_groups' "
                             "(the output of optimizer.state_dict())")
        saved_groups, saved_state = state_dict["param_groups"], state_dict.get("state", {})
        if not (isinstance(saved_groups, list) and all(
                isinstance(g, dict) and isinstance(g.get("params"), list)
                and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool)
                        for i in g["params"]) for g in saved_groups)):
            raise ValueError("load_state_dict: 'param_groups' must be a list of dicts whose "
                             "'params' are lists of parameter indices")
        if not (isinstance(saved_state, dict) and all(isinstance(s, dict) for s in saved_state.values())):
            raise ValueError("load_state_dict: 'state' must map parameter indices to dicts")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, but "
                             f"this optimizer has {len(self.param_groups)}")
        for i, (g, sg) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(f"loaded state dict contains a parameter group {i} with "
                                 f"{len(sg['params'])} parameters, but this optimizer's group "
                                 f"{i} has {len(g['params'])}")
        id_map = {}
        for g, sg in zip(self.param_groups, saved_groups):
            for p, idx in zip(g["params"], sg["params"]):
                id_map[int(idx)] = p
        new_state = {}
        for k, s in saved_state.items():
            try:
                idx = int(k)
            except (TypeError, ValueError):
                raise ValueError(f"load_state_dict: state key {str(k)[:40]!r} is not a "
                                 "parameter index") from None
            if idx not in id_map:
                raise ValueError(f"loaded state dict has state for parameter {idx}, which is not "
                                 "in any parameter group")
            p = id_map[idx]
            new_state[p] = self._load_param_state(p, s)
        # validate every group before changing anything
        new_groups = []
        for g, sg in zip(self.param_groups, saved_groups):
            ng = {k: _plain(v) for k, v in sg.items() if k != "params"}
            ng["params"] = g["params"]
            self._check_group(ng)
            new_groups.append(ng)
        self.param_groups = new_groups
        self.state = new_state

    def _load_param_state(self, p, s):
        """One parameter's state, copied onto the parameter's device and (floating arrays)
        cast to its dtype, as PyTorch does, so a model moved before loading just works."""
        out = {}
        dev = p.device
        for name, v in s.items():
            v = _copy_tree(v)
            if _backend.is_array(v):
                v = _backend.move(v, dev)
                if is_floating_point(v.dtype) and v.ndim > 0:
                    v = v.astype(p.data.dtype, copy=False)
            if name in self._param_buffers:
                if not _backend.is_array(v) or v.shape != p.data.shape or \
                        getattr(v.dtype, "kind", "O") not in "biufV":
                    raise ValueError(f"load_state_dict: state {name!r} has shape "
                                     f"{np.shape(v)} ({type(v).__name__} "
                                     f"{getattr(v, 'dtype', '')}), but its parameter has shape "
                                     f"{p.data.shape}")
            elif self._param_buffers and _backend.is_array(v) and v.ndim > 0:
                # an array this optimizer does not keep: the state of another optimizer
                raise ValueError(f"load_state_dict: state {name!r} is not one "
                                 f"{type(self).__name__} keeps (its per-parameter arrays: "
                                 f"{', '.join(self._param_buffers)}); the checkpoint was "
                                 "saved with another optimizer")
            out[name] = v
        return out

    def _state_for(self, p, init):
        """``self.state[p]``, created by ``init(p.data)`` (a dict) on first use."""
        s = self.state.get(p)
        if not s:
            s = self.state[p] = init(p.data)
        return s

    def step(self, closure=None):
        raise NotImplementedError


def _copy_tree(v):
    if isinstance(v, Tensor):
        return v.data.copy()
    if _backend.is_array(v):
        return v.copy()
    if isinstance(v, dict):
        return {k: _copy_tree(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy_tree(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_copy_tree(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _plain(v):
    """Group options as saved: tuples may come back as lists; arrays of one number as numbers."""
    if isinstance(v, np.generic):
        return v.item()
    return v
