"""``ember.device``: where a tensor's array lives, with PyTorch's spelling.

``ember.device("cpu")``, ``ember.device("cuda:0")``, ``ember.device("cuda", 1)``. A device
names a backend (``ember.backend``) and an index; creating one never touches the hardware,
moving an array to it does (and says what is missing when the device is not there).
"""
from typing import Optional, Union

from . import backend as _backend


class device:
    """A device type (``"cpu"``, ``"cuda"``, ``"fake"`` from ``ember.testing``) and an optional
    index. ``str(device("cuda", 0)) == "cuda:0"``; equality compares type and index, as
    PyTorch (``device("cuda") != device("cuda:0")``)."""

    __slots__ = ("type", "index")

    def __init__(self, type: Union[str, "device"], index: Optional[int] = None):
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(device, index): give the index in the string or as the "
                                "second argument, not both")
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got "
                            f"{type!r} ({builtins_type(type).__name__})")
        name, sep, idx = type.partition(":")
        if sep:
            if index is not None:
                raise TypeError(f"device({type!r}, {index}): the index is given twice")
            if not idx.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r} (expected "
                                   "'type' or 'type:index', e.g. 'cuda:0')")
            index = int(idx)
        if name not in _backend.device_types():
            raise RuntimeError(f"device: unknown device type {name!r} in {type!r}; expected one "
                               f"of {', '.join(_backend.device_types())} (the test device "
                               "'fake' exists after `import ember.testing.fake_device`)")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"device: index must be a non-negative integer, got {index!r}")
        self.type, self.index = name, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, device) and self.type == other.type and \
            self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return device, (self.type, self.index)


builtins_type = type
CPU = device("cpu")


def as_device(d) -> device:
    """``d`` (a device, a string, or an int meaning ``cuda:d`` as PyTorch) as a device."""
    if isinstance(d, device):
        return d
    if isinstance(d, int) and not isinstance(d, bool):
        return device("cuda", d)
    return device(d)


def same_place(a: device, b: device) -> bool:
    """True when arrays on ``a`` need no move to be on ``b`` ("cuda" means the current GPU,
    index 0; cpu has one device)."""
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def check_same_device(op_name: str, inputs) -> None:
    """Raise a RuntimeError naming ``op_name`` and both devices when tensors among ``inputs``
    live on different devices. Called only after an op failed (zero cost when all is well)."""
    seen = None
    for x in inputs:
        d = getattr(x, "data", None)
        if d is None or not _backend.is_array(d):
            continue
        dev = _backend.device_of(d)
        if seen is None:
            seen = dev
        elif not same_place(seen, dev):
            raise RuntimeError(f"{op_name}: expected all tensors to be on the same device, but "
                               f"found tensors on {seen} and {dev}; move one with "
                               f".to('{seen}') or .to('{dev}')")
