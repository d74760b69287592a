"""``TextVectorization``: Keras's string -> integer-sequence layer. ``adapt(texts)`` builds the
vocabulary (index 0 = padding '', 1 = OOV '[UNK]', then by decreasing frequency, ``max_tokens``
counting both reserved entries); calling the layer on a batch of strings gives (B, T) int64 ids,
T = ``output_sequence_length`` or the batch's longest text. ``output_mode`` 'multi_hot' /
'count' give (B, vocabulary size) float32 instead."""
from collections import Counter

import numpy as np

from ..data.text import Tokenizer, Vocab
from ..tensor import Tensor
from .layers import Layer

_STANDARDIZE = {"lower_and_strip_punctuation": (True, True), "lower": (True, False),
                "strip_punctuation": (False, True), None: (False, False)}


def _texts(data):
    """Strings from a list / array of strings, a Tensor of strings, or an iterable of batches
    (a DataLoader or generator yielding strings, lists of strings or (texts, labels) pairs)."""
    if isinstance(data, str):
        yield data
        return
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        for s in data.reshape(-1):
            yield s.decode() if isinstance(s, bytes) else str(s)
        return
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:   # (texts, labels) batches
            item = item[0]
        if isinstance(item, (str, bytes)):
            yield item.decode() if isinstance(item, bytes) else item
        else:
            yield from _texts(item)


class TextVectorization(Layer):
    """``TextVectorization(max_tokens=None, standardize='lower_and_strip_punctuation',
    split='whitespace' | 'character', output_mode='int', output_sequence_length=None,
    vocabulary=None)``."""

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", output_mode="int", output_sequence_length=None,
                 vocabulary=None, name=None):
        super().__init__(None, name)
        if standardize not in _STANDARDIZE:
            raise ValueError(f"TextVectorization: standardize must be one of "
                             f"{list(_STANDARDIZE)}, got {standardize!r}")
        if split not in ("whitespace", "character"):
            raise ValueError(f"TextVectorization: split must be 'whitespace' or 'character', "
                             f"got {split!r}")
        if output_mode not in ("int", "multi_hot", "count"):
            raise ValueError(f"TextVectorization: output_mode must be 'int', 'multi_hot' or "
                             f"'count', got {output_mode!r}")
        if max_tokens is not None and max_tokens < 3:
            raise ValueError(f"TextVectorization: max_tokens must be >= 3 (padding, OOV and one "
                             f"token), got {max_tokens}")
        lower, strip = _STANDARDIZE[standardize]
        self.__dict__.update(max_tokens=max_tokens, output_mode=output_mode,
                             output_sequence_length=output_sequence_length,
                             tokenizer=Tokenizer("word" if split == "whitespace" else "char",
                                                 lower, strip),
                             vocab=None, built=True)
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    def adapt(self, data):
        """Build the vocabulary from the texts of ``data`` (list, array, or batches)."""
        counts = Counter()
        for text in _texts(data):
            counts.update(self.tokenizer(text))
        self.__dict__["vocab"] = Vocab(counts, max_size=self.max_tokens, pad_token="",
                                       oov_token="[UNK]")
        return self

    def set_vocabulary(self, vocabulary):
        """Use ``vocabulary`` (tokens in id order, without '' and '[UNK]')."""
        toks = [t for t in vocabulary if t not in ("", "[UNK]")]
        counts = Counter({t: len(toks) - i for i, t in enumerate(toks)})  # keeps the order
        self.__dict__["vocab"] = Vocab(counts, max_size=self.max_tokens, pad_token="",
                                       oov_token="[UNK]")

    def get_vocabulary(self):
        if self.vocab is None:
            raise RuntimeError("TextVectorization: call adapt(texts) or set_vocabulary first")
        return list(self.vocab.itos)

    def vocabulary_size(self):
        return len(self.get_vocabulary())

    def __call__(self, x, *args, **kwargs):
        return self.forward(x)

    def forward(self, x):
        if self.vocab is None:
            raise RuntimeError("TextVectorization: call adapt(texts) or set_vocabulary before "
                               "using the layer")
        texts = list(_texts(x))
        ids = [self.vocab.encode(self.tokenizer(t)) for t in texts]
        if self.output_mode != "int":
            out = np.zeros((len(ids), len(self.vocab)), np.float32)
            for i, row in enumerate(ids):
                np.add.at(out[i], row, 1.0)
            out[:, 0] = 0
            if self.output_mode == "multi_hot":
                out = (out > 0).astype(np.float32)
            return Tensor(out)
        T = self.output_sequence_length or max((len(r) for r in ids), default=0)
        out = np.zeros((len(ids), T), np.int64)
        for i, row in enumerate(ids):
            row = row[:T]
            out[i, :len(row)] = row
        return Tensor(out)

    def extra_repr(self):
        n = None if self.vocab is None else len(self.vocab)
        return f"vocabulary_size={n}, output_mode={self.output_mode!r}"
