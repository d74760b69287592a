"""Global random state: one NumPy Generator that every random op in ember draws from.

``ember.manual_seed(seed)`` reseeds it, so initialisation, dropout masks, shuffling and
augmentation are repeatable run to run.
"""
import numpy as np

_generator = np.random.default_rng()
_seed = None


def manual_seed(seed):
    """Reseed ember's global generator (weights init, dropout, shuffling, augmentation)."""
    global _generator, _seed
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _seed = seed
    _generator = np.random.default_rng(seed)
    return _generator


def initial_seed():
    """The last seed given to manual_seed (None if never seeded)."""
    return _seed


def get_generator():
    """The np.random.Generator ember draws from; always call this, never cache the result,
    because manual_seed replaces it."""
    return _generator


def fork_generator():
    """A new independent Generator seeded from the global one (for background workers),
    so worker streams are repeatable under manual_seed without sharing state across threads."""
    return np.random.default_rng(_generator.integers(0, 2**63 - 1))
