"""Grad mode: whether ops record the graph. ``ember.no_grad()`` turns recording off.

The flag is a module global read on every op (the cheapest check Python offers); it is
process-wide, like the lectures' single training loop expects.
"""
import functools

_enabled = True


def is_grad_enabled():
    """True when ops record the graph for backward."""
    return _enabled


class _GradModeSetter:
    """Context manager and decorator that sets grad mode and restores it afterwards."""

    _mode = None

    def __enter__(self):
        global _enabled
        self._prev = _enabled
        _enabled = self._mode

    def __exit__(self, *exc):
        global _enabled
        _enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            global _enabled
            prev = _enabled
            _enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _enabled = prev

        return wrapper


class no_grad(_GradModeSetter):
    """``with ember.no_grad():`` (or ``@ember.no_grad()``): run ops without recording the graph,
    e.g. for evaluation or the manual update ``w -= lr * w.grad``."""

    _mode = False


class enable_grad(_GradModeSetter):
    """Turn graph recording back on inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradModeSetter):
    """``set_grad_enabled(False)`` as a call, context manager or decorator."""

    def __init__(self, mode):
        global _enabled
        self._mode = bool(mode)
        self._prev = _enabled
        _enabled = self._mode

    def __enter__(self):
        pass
