"""Parameter averaging: an exponential moving average of the weights (Polyak averaging), and
averaging of saved checkpoints.

Averaged weights usually evaluate better than the last iterate (they smooth out SGD noise)::

    ema = ExponentialMovingAverage(model.parameters(), decay=0.999)
    for batch in loader:
        ...; opt.step(); ema.update()
    with ema.average_parameters():      # evaluate with the averaged weights
        evaluate(model)                 # original weights are back afterwards
"""
import contextlib

import numpy as np

from ..tensor import Tensor

__all__ = ["ExponentialMovingAverage", "average_checkpoints"]


def _param_list(params_or_module):
    if hasattr(params_or_module, "parameters") and callable(params_or_module.parameters):
        params = list(params_or_module.parameters())
    elif isinstance(params_or_module, Tensor):
        params = [params_or_module]
    else:
        params = list(params_or_module)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"ExponentialMovingAverage: expected Tensors, got "
                            f"{type(p).__name__}")
    if not params:
        raise ValueError("ExponentialMovingAverage got an empty parameter list")
    return params


class ExponentialMovingAverage:
    r"""Shadow copy ``s`` of some parameters, updated by ``update()``:
    ``s = decay * s + (1 - decay) * p`` (starting from ``s = p`` at construction).

    ``use_num_updates=True`` uses ``min(decay, (1 + n) / (10 + n))`` for the n-th update (warms
    up faster, as TensorFlow's ``ExponentialMovingAverage(num_updates=...)``).
    ``swap()`` exchanges the parameters' values with the averages; ``average_parameters()``
    is a context manager that swaps the averages in and swaps back on exit (exactly).
    """

    def __init__(self, params_or_module, decay=0.999, use_num_updates=False):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"Invalid decay: {decay!r} (expected 0 <= decay <= 1)")
        self.params = _param_list(params_or_module)
        self.decay = decay
        self.num_updates = 0 if use_num_updates else None
        self.shadow = [p.data.copy() for p in self.params]
        self._tmp = [np.empty_like(p.data) for p in self.params]

    def _decay(self):
        if self.num_updates is None:
            return self.decay
        self.num_updates += 1
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    def update(self):
        """Fold the current parameter values into the average (call after each optimizer
        step)."""
        decay = self._decay()
        for p, s, tmp in zip(self.params, self.shadow, self._tmp):
            if p.data.shape != s.shape:
                raise RuntimeError(f"ExponentialMovingAverage: parameter shape changed from "
                                   f"{s.shape} to {p.data.shape}")
            # s -= (1 - decay) * (s - p): one temporary, no allocation
            np.subtract(s, p.data, out=tmp)
            tmp *= 1.0 - decay
            s -= tmp

    def swap(self):
        """Exchange parameter values and averages (in place; call again to undo)."""
        for p, s, tmp in zip(self.params, self.shadow, self._tmp):
            np.copyto(tmp, p.data)
            np.copyto(p.data, s)
            np.copyto(s, tmp)
            p._vb[0] += 1

    def copy_to(self, params=None):
        """Write the averages into ``params`` (default: the tracked parameters)."""
        targets = self.params if params is None else _param_list(params)
        for p, s in zip(targets, self.shadow):
            np.copyto(p.data, s)
            p._vb[0] += 1

    @contextlib.contextmanager
    def average_parameters(self):
        """``with ema.average_parameters(): evaluate(model)`` -- averaged weights inside,
        the original ones restored afterwards (even on an exception)."""
        self.swap()
        try:
            yield self
        finally:
            self.swap()

    def state_dict(self):
        return {"decay": self.decay, "num_updates": self.num_updates,
                "shadow": [s.copy() for s in self.shadow]}

    def load_state_dict(self, state_dict):
        shadow = state_dict["shadow"]
        if len(shadow) != len(self.shadow):
            raise ValueError(f"EMA state has {len(shadow)} averages, this EMA tracks "
                             f"{len(self.shadow)} parameters")
        for i, (s, x) in enumerate(zip(self.shadow, shadow)):
            x = x.data if isinstance(x, Tensor) else np.asarray(x)
            if x.shape != s.shape:
                raise ValueError(f"EMA state: average {i} has shape {x.shape}, the parameter "
                                 f"has shape {s.shape}")
        for s, x in zip(self.shadow, shadow):
            np.copyto(s, x.data if isinstance(x, Tensor) else x, casting="unsafe")
        self.decay = state_dict["decay"]
        self.num_updates = state_dict["num_updates"]


def average_checkpoints(state_dicts):
    """Element-wise mean of several state dicts (``name -> Tensor or ndarray``) with the same
    keys and shapes, e.g. the last few epochs' checkpoints of one model. Floating entries are
    averaged (in float64, then cast back); other entries (integer counters) are taken from the
    last state dict. Values keep their type (Tensor or ndarray). Nested dicts are averaged
    recursively."""
    state_dicts = list(state_dicts)
    if not state_dicts:
        raise ValueError("average_checkpoints needs at least one state dict")
    return _average(state_dicts, "")


def _average(sds, where):
    first = sds[0]
    if isinstance(first, dict):
        keys = list(first.keys())
        for i, sd in enumerate(sds[1:], 1):
            if not isinstance(sd, dict) or set(sd.keys()) != set(keys):
                missing = set(keys) ^ set(sd.keys() if isinstance(sd, dict) else ())
                raise ValueError(f"average_checkpoints: state dict {i} has different keys"
                                 f"{' at ' + where if where else ''} (differing: "
                                 f"{sorted(map(str, missing))[:5]})")
        return {k: _average([sd[k] for sd in sds], f"{where}.{k}" if where else str(k))
                for k in keys}
    arrays = []
    for i, v in enumerate(sds):
        if isinstance(v, (Tensor, np.ndarray, int, float, np.number)) or v is None:
            arrays.append(v)
        else:
            raise TypeError(f"average_checkpoints: unsupported value of type "
                            f"{type(v).__name__} at {where!r}")
    if first is None or isinstance(first, (int, float, np.number)):
        if isinstance(first, (float, np.floating)):
            return float(np.mean([float(x) for x in arrays]))
        return sds[-1]
    datas = [a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
    shape = datas[0].shape
    for i, d in enumerate(datas):
        if d.shape != shape:
            raise ValueError(f"average_checkpoints: {where!r} has shape {d.shape} in state dict "
                             f"{i} but {shape} in state dict 0")
    if datas[0].dtype.kind not in "fc":
        out = datas[-1].copy()
    else:
        acc = np.zeros(shape, np.float64 if datas[0].dtype.kind == "f" else np.complex128)
        for d in datas:
            acc += d
        acc /= len(datas)
        out = acc.astype(datas[0].dtype)
    if isinstance(first, Tensor):
        return Tensor(out)
    return out
