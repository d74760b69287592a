"""Keras's ``pad_sequences``: a list of variable-length sequences -> one (N, maxlen) array."""
import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0) -> np.ndarray:
    """Pad (with ``value``) or truncate each sequence to ``maxlen`` (default: the longest),
    at the start ('pre', Keras's default) or the end ('post'). Elements may be scalars or
    same-shaped arrays (the result is then (N, maxlen, *shape))."""
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding and truncating must be 'pre' or 'post', got "
                         f"{padding!r} and {truncating!r}")
    seqs = []
    for i, s in enumerate(sequences):
        try:
            seqs.append(np.asarray(s))
        except ValueError as e:
            raise ValueError(f"pad_sequences: sequence {i} is not array-like: {e}") from None
    lens = [len(s) for s in seqs]
    if maxlen is None:
        maxlen = max(lens) if lens else 0
    sample = next((s.shape[1:] for s in seqs if len(s)), ())
    dt = np.dtype(dtype)
    if isinstance(value, str) and dt.kind not in "USO":
        raise ValueError(f"pad_sequences: dtype {dt} cannot hold the string padding value "
                         f"{value!r}; use dtype=object")
    out = np.full((len(seqs), maxlen) + tuple(sample), value, dtype=dt)
    for i, s in enumerate(seqs):
        if not len(s) or not maxlen:
            continue
        if s.shape[1:] != sample:
            raise ValueError(f"pad_sequences: sequence {i} has elements of shape {s.shape[1:]}, "
                             f"expected {sample}")
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "post":
            out[i, :len(trunc)] = trunc
        else:
            out[i, maxlen - len(trunc):] = trunc
    return out
