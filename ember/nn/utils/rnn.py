"""Variable-length sequences, with PyTorch's names: ``pad_sequence``, ``pack_padded_sequence``,
``pad_packed_sequence``, ``pack_sequence`` and ``PackedSequence``.

A ``PackedSequence`` holds the valid time steps only, time-major and, within each step, sorted
by decreasing length (PyTorch's layout): ``data`` (sum of lengths, *), ``batch_sizes`` (T,) the
number of sequences still running at each step, and the permutations between the caller's batch
order and the sorted one. The recurrent layers accept it and return one, and their ``h_n`` is
the state after each sequence's own last step, in the caller's batch order. All conversions are
gathers, so gradients flow back to the padded tensor (zero at padding).
"""
from collections import namedtuple

import numpy as np

from ...tensor import Tensor


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """``PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)``; see the module
    docstring. ``sorted_indices[j]`` is the caller's index of the j-th longest sequence."""

    __slots__ = ()

    def lengths(self) -> np.ndarray:
        """Length of each sequence, in the caller's batch order."""
        bs = np.asarray(self.batch_sizes)
        in_sorted = (np.arange(int(bs[0]))[:, None] < bs[None, :]).sum(1)
        return in_sorted if self.unsorted_indices is None else \
            in_sorted[np.asarray(self.unsorted_indices)]


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _lengths(lengths, batch):
    lens = np.asarray(_data(lengths)).astype(np.int64).reshape(-1)
    if lens.shape[0] != batch:
        raise ValueError(f"pack_padded_sequence: {lens.shape[0]} lengths for a batch of {batch}")
    if lens.size and lens.min() < 1:
        raise ValueError(f"pack_padded_sequence: every length must be >= 1, got {lens.tolist()}")
    return lens


def _pack_rows(lens, order):
    """(time, batch) index pairs of the packed rows: step by step, the sequences (in ``order``,
    the caller's indices sorted by decreasing length) that are still running."""
    sl = lens[order]
    T = int(sl[0]) if sl.size else 0
    batch_sizes = (sl[None, :] > np.arange(T)[:, None]).sum(1)
    t_idx = np.repeat(np.arange(T), batch_sizes)
    b_idx = np.concatenate([order[:n] for n in batch_sizes]) if T else np.zeros(0, np.int64)
    return t_idx, b_idx, batch_sizes.astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) whose sequence b has
    ``lengths[b]`` valid steps. With ``enforce_sorted`` the lengths must be decreasing."""
    x = _as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected a (T, B, *) input, got {tuple(x.shape)}")
    B, T = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    lens = _lengths(lengths, B)
    if lens.size and lens.max() > T:
        raise ValueError(f"pack_padded_sequence: a length of {int(lens.max())} for sequences "
                         f"padded to {T} steps")
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise ValueError("pack_padded_sequence: lengths must be sorted in decreasing order "
                             f"(got {lens.tolist()}); pass enforce_sorted=False to sort them")
        order, sorted_idx, unsorted_idx = np.arange(B), None, None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_idx, unsorted_idx = order, np.argsort(order)
    t_idx, b_idx, batch_sizes = _pack_rows(lens, order)
    data = x[b_idx, t_idx] if batch_first else x[t_idx, b_idx]
    return PackedSequence(data, batch_sizes, sorted_idx, unsorted_idx)


def _padded_index(seq: PackedSequence, total_length=None):
    """For the padded (T, B) grid in the caller's order: the packed row of each cell, or the
    extra padding row ``len(data)``; and the lengths."""
    bs = np.asarray(seq.batch_sizes)
    n = int(bs.sum())
    T = len(bs)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"pad_packed_sequence: total_length {total_length} is less than the "
                             f"longest sequence ({T})")
        T = int(total_length)
    B = int(bs[0]) if len(bs) else 0
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]])
    grid = np.full((T, B), n, np.int64)
    for t in range(len(bs)):
        grid[t, :bs[t]] = offsets[t] + np.arange(bs[t])
    lens = (grid[:len(bs)] < n).sum(0)
    if seq.unsorted_indices is not None:
        inv = np.asarray(seq.unsorted_indices)
        grid, lens = grid[:, inv], lens[inv]
    return grid, lens


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length=None):
    """Inverse of ``pack_padded_sequence``: (padded (T, B, *) or (B, T, *), lengths) in the
    caller's batch order; padding cells hold ``padding_value``."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got "
                        f"{type(sequence).__name__}")
    data = _as_tensor(sequence.data)
    grid, lens = _padded_index(sequence, total_length)
    from ...functions import cat
    fill = Tensor(np.full((1,) + tuple(data.shape[1:]), padding_value, data.dtype))
    out = cat([data, fill], 0)[grid.T if batch_first else grid]
    return out, Tensor(lens.astype(np.int64))


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right"):
    """Stack sequences of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), padding with
    ``padding_value`` on the right (or the left)."""
    seqs = [_as_tensor(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence: expected a non-empty list of sequences")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    tail = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if s.ndim < 1 or tuple(s.shape[1:]) != tail:
            raise ValueError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}; every "
                             f"sequence must be (L, {', '.join(map(str, tail)) or ''}) like the "
                             "first")
    from ...functions import pad, stack
    T = max(s.shape[0] for s in seqs)
    rest = [(0, 0)] * len(tail)
    padded = [s if s.shape[0] == T else
              pad(s, [((0, T - s.shape[0]) if padding_side == "right" else
                       (T - s.shape[0], 0))] + rest, padding_value) for s in seqs]
    return stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) directly."""
    lens = [int(_as_tensor(s).shape[0]) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lens, enforce_sorted=enforce_sorted)


def unpack_sequence(packed: PackedSequence):
    """The list of sequences (L_i, *) a PackedSequence holds, in the caller's order."""
    padded, lens = pad_packed_sequence(packed, batch_first=True)
    return [padded[b, :int(n)] for b, n in enumerate(lens.data)]
