"""default_collate: stack a list of samples into one batch (structure preserved)."""
import numbers

import numpy as np


def _unwrap(x):
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(x, np.ndarray):
        return data
    return x


def default_collate(samples):
    """Stack samples along a new first axis.

    Tuples/lists are collated field by field (returning a tuple), dicts key by key.
    Python floats become float32 (ember's default dtype); integers stay integers (the
    loader turns 1-D integer fields, i.e. labels, into int64).
    """
    if len(samples) == 0:
        raise ValueError("default_collate: got an empty list of samples")
    first = _unwrap(samples[0])
    if isinstance(first, (tuple, list)):
        sizes = {len(s) for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples have different numbers of fields {sorted(sizes)}")
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, bool) or isinstance(first, np.bool_):
        return np.asarray(samples, dtype=bool)
    if isinstance(first, numbers.Integral):
        return np.asarray(samples, dtype=np.int64)
    if isinstance(first, numbers.Real) and not isinstance(first, np.generic):
        return np.asarray(samples, dtype=np.float32)
    arrays = [np.asarray(_unwrap(s)) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: cannot stack samples of different shapes {sorted(shapes)}; "
                         "resize them with a transform or pass a custom collate_fn")
    return np.stack(arrays)
