"""random_split: disjoint random subsets of a dataset."""
import math

import numpy as np

from ._rng import current_generator
from .dataset import Subset


def _resolve_lengths(lengths, n):
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        lengths = [int(x) for x in lengths]
        if any(x < 0 for x in lengths) or sum(lengths) != n:
            raise ValueError(f"random_split: lengths {lengths} must be >= 0 and sum to the "
                             f"dataset length {n}")
        return lengths
    fractions = [float(x) for x in lengths]
    if any(f < 0 or f > 1 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"random_split: fractions {fractions} must be in [0, 1] and sum to 1")
    counts = [int(math.floor(n * f)) for f in fractions]
    # hand out the rounding remainder one by one, like PyTorch
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping Subsets of the given lengths.

    ``lengths`` are ints summing to ``len(dataset)`` or fractions summing to 1. The
    permutation comes from ``generator`` or ember's global generator (repeatable under
    ``ember.manual_seed``).
    """
    n = len(dataset)
    counts = _resolve_lengths(lengths, n)
    perm = current_generator(generator).permutation(n)
    subsets, start = [], 0
    for c in counts:
        subsets.append(Subset(dataset, perm[start:start + c]))
        start += c
    return subsets
