"""Which np.random.Generator data code draws from.

Normally ember's global generator (reseeded by ``ember.manual_seed``). DataLoader worker
threads install their own forked generator here, so augmentation inside a worker is
repeatable and never races on the shared global state.
"""
import contextlib
import threading

from ember import random as _ember_random

_local = threading.local()


def current_generator(generator=None):
    """``generator`` if given, else this thread's worker generator, else the global one."""
    if generator is not None:
        return generator
    override = getattr(_local, "generator", None)
    if override is not None:
        return override
    return _ember_random.get_generator()


@contextlib.contextmanager
def use_generator(generator):
    """Make ``generator`` this thread's default for data randomness inside the block."""
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield generator
    finally:
        _local.generator = previous
