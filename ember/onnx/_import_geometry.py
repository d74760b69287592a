"""Window geometry shared by convolution and pooling: ``auto_pad`` / ``pads`` to per-dim
(begin, end) padding, and 1-D problems as 2-D ones on an (N, C, 1, L) view (as
``ember.nn.Conv1d`` does), so one 2-D primitive serves both."""
from __future__ import annotations

AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


def check_spatial(n):
    ks = n.get("kernel_shape")
    if ks is not None and len(ks) not in (1, 2):
        n.unsupported(f"{len(ks)}-D {n.op_type} is not supported (1-D and 2-D only)")
    if n.get("auto_pad", "NOTSET") not in AUTO_PADS:
        n.unsupported(f"auto_pad={n.get('auto_pad')!r}; expected one of {AUTO_PADS}")


def pads_of(n, size, kernel, strides, dil):
    """Per-dim (begin, end) padding from ``pads`` or ``auto_pad`` (SAME_UPPER puts the odd
    extra at the end, SAME_LOWER at the beginning; output ceil(in / stride))."""
    auto = n.get("auto_pad", "NOTSET")
    nd = len(size)
    if auto == "VALID":
        return [(0, 0)] * nd
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for i, k, s, d in zip(size, kernel, strides, dil):
            total = max(0, (-(-i // s) - 1) * s + (k - 1) * d + 1 - i)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            out.append((lo, total - lo))
        return out
    p = n.get("pads") or [0] * (2 * nd)
    return [(int(p[i]), int(p[i + nd])) for i in range(nd)]


def as_2d(x, vals, fill):
    """A 1-D (N, C, L) problem as 2-D (N, C, 1, L): prepend ``fill`` to each per-dim list."""
    return x.unsqueeze(2), [[fill] + list(v) for v in vals]
