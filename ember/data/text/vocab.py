"""``Vocab``: token <-> id, with the padding id 0 and the out-of-vocabulary id 1 reserved, then
tokens by decreasing frequency (ties in token order, so the ids are reproducible)."""
from collections import Counter


class Vocab:
    """``Vocab(counts, min_freq=1, max_size=None, pad_token='<pad>', oov_token='<unk>')``.

    ``counts``: a Counter / mapping token -> count, or an iterable of tokens (counted).
    ``max_size`` bounds the whole table, reserved entries included; tokens seen fewer than
    ``min_freq`` times are left out (they map to the OOV id). ``pad_token=None`` or
    ``oov_token=None`` drops that reserved entry (unknown tokens then raise KeyError).
    """

    def __init__(self, counts, min_freq: int = 1, max_size=None, pad_token="<pad>",
                 oov_token="<unk>"):
        if min_freq < 1:
            raise ValueError(f"Vocab: min_freq must be >= 1, got {min_freq}")
        counts = Counter(counts) if not isinstance(counts, Counter) else counts
        reserved = [t for t in (pad_token, oov_token) if t is not None]
        if max_size is not None and max_size < len(reserved):
            raise ValueError(f"Vocab: max_size {max_size} leaves no room for the reserved "
                             f"tokens {reserved}")
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in reserved),
                        key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[:max_size - len(reserved)]
        self.pad_token, self.oov_token = pad_token, oov_token
        self.itos = reserved + ranked
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.counts = counts

    @classmethod
    def build(cls, texts, tokenizer, **kwargs) -> "Vocab":
        """Count the tokens of every text with ``tokenizer`` and build the table."""
        c = Counter()
        for t in texts:
            c.update(tokenizer(t))
        return cls(c, **kwargs)

    @property
    def pad_id(self):
        return None if self.pad_token is None else self.stoi[self.pad_token]

    @property
    def oov_id(self):
        return None if self.oov_token is None else self.stoi[self.oov_token]

    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def __getitem__(self, token) -> int:
        i = self.stoi.get(token)
        if i is None:
            if self.oov_token is None:
                raise KeyError(f"Vocab: token {token!r} is not in the vocabulary (and there is "
                               "no OOV token)")
            return self.stoi[self.oov_token]
        return i

    def encode(self, tokens) -> list:
        return [self[t] for t in tokens]

    def decode(self, ids, skip_pad: bool = True) -> list:
        pad = self.pad_id
        out = []
        for i in ids:
            i = int(i)
            if skip_pad and i == pad:
                continue
            if not 0 <= i < len(self.itos):
                raise IndexError(f"Vocab: id {i} out of range for {len(self.itos)} entries")
            out.append(self.itos[i])
        return out

    def __repr__(self):
        return f"Vocab({len(self)} tokens, pad={self.pad_token!r}, oov={self.oov_token!r})"
