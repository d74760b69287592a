"""Inference-time fusion of layer pairs inside :class:`ember.nn.Sequential`.

With grad mode off (``no_grad``, ``Model.predict``), a ``Conv2d`` directly followed by a
``ReLU`` runs as one convolution call whose epilogue adds the bias and clamps at zero while
each block of the GEMM's output is still in cache, instead of a second pass over the whole
output. The result is bit-identical to the two calls (the same ``max(x, 0)`` on the same
values).

Fusion happens only when nothing could observe the difference: grad mode off, no dispatch mode
(tracing, jit, ONNX export, op counters record the unfused calls), no module tracking, no
forward hooks on either layer, and exactly these two classes (a subclass may override
``forward``).
"""
from .. import dispatch
from ..autograd import grad_mode
from . import functional as F
from . import module as _module
from .activation import ReLU
from .layers import Conv2d


#: set to False to run every layer separately (e.g. to compare timings)
ENABLED = True


def active() -> bool:
    """Whether a Sequential call may fuse now."""
    return (ENABLED and not grad_mode._enabled and not dispatch._active
            and not _module._tracking)


def _plain(m):
    d = m.__dict__
    return not d.get("_forward_pre_hooks") and not d.get("_forward_hooks")


def run(mods, x):
    """Call ``mods`` in order on ``x``, fusing each plain Conv2d + ReLU pair."""
    mods = list(mods)
    i, n = 0, len(mods)
    while i < n:
        m = mods[i]
        if (type(m) is Conv2d and i + 1 < n and type(mods[i + 1]) is ReLU and _plain(m)
                and _plain(mods[i + 1])):
            x = F.conv2d(x, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups,
                         _name=f"Conv2d({m.extra_repr()})", _relu=True)
            i += 2
        else:
            x = m(x)
            i += 1
    return x
