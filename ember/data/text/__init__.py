"""Text tools: tokenizers (words, characters), a vocabulary with reserved padding and
out-of-vocabulary ids, and Keras's ``pad_sequences``::

    from ember.data.text import Tokenizer, Vocab, pad_sequences
    tok = Tokenizer("word")
    vocab = Vocab.build(texts, tok, min_freq=2, max_size=20000)
    x = pad_sequences([vocab.encode(tok(t)) for t in texts], maxlen=200)
"""
from .sequence import pad_sequences
from .tokenize import Tokenizer, standardize
from .vocab import Vocab

__all__ = ["Tokenizer", "standardize", "Vocab", "pad_sequences"]
