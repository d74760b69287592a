"""Global random state: one NumPy Generator that every random op in ember draws from.

``ember.manual_seed(seed)`` reseeds it, so initialisation, dropout masks, shuffling and
augmentation are repeatable run to run.
"""
import numpy as np

_generator = None  # made on first use: numpy.random costs `import ember` ~10 ms (a third)
_seed = None


def _unseeded():
    global _generator
    if _generator is None:
        _generator = np.random.default_rng()
    return _generator


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
    return _generator if _generator is not None else _unseeded()


def fork_generator():
    """A new independent Generator seeded from the global one (for background workers),
    so worker streams are repeatable under manual_seed without sharing state across threads."""
    return np.random.default_rng(get_generator().integers(0, 2**63 - 1))


_M64 = (1 << 64) - 1


def get_state():
    """The global generator's state as an explicit array (uint64, 6 values: PCG64's 128-bit
    state and increment, and its buffered 32-bit draw) - what random primitives take as an
    input and give back updated, so a replayed graph draws new numbers."""
    st = get_generator().bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise TypeError(f"ember.random: the generator is {st['bit_generator']}, expected PCG64")
    s, inc = st["state"]["state"], st["state"]["inc"]
    return np.array([s >> 64, s & _M64, inc >> 64, inc & _M64, st["has_uint32"],
                     st["uinteger"]], np.uint64)


def set_state(state):
    """Make the global generator continue from ``state`` (an array from :func:`get_state` or
    from a random primitive's output)."""
    get_generator().bit_generator.state = state_dict(state)


def state_dict(state):
    """NumPy's PCG64 state dict for a state array."""
    v = [int(x) for x in np.asarray(state).reshape(-1)]
    return {"bit_generator": "PCG64", "state": {"state": (v[0] << 64) | v[1],
                                                "inc": (v[2] << 64) | v[3]},
            "has_uint32": v[4], "uinteger": v[5]}
