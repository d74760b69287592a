"""Tokenizers: text -> list of word or character tokens, after an optional standardisation
(Keras's 'lower_and_strip_punctuation': lower case, ASCII punctuation removed)."""
import re
import string

_PUNCT = re.compile("[" + re.escape(string.punctuation) + "]")


def standardize(text: str, lower: bool = True, strip_punctuation: bool = True) -> str:
    """Lower-case and/or remove ASCII punctuation."""
    if lower:
        text = text.lower()
    if strip_punctuation:
        text = _PUNCT.sub("", text)
    return text


class Tokenizer:
    """``Tokenizer(level='word' | 'char', lower=True, strip_punctuation=...)``; calling it on
    a string gives its tokens. Words are whitespace-separated after standardisation (punctuation
    stripped by default); characters keep punctuation and spaces unless asked."""

    def __init__(self, level: str = "word", lower: bool = True, strip_punctuation=None):
        if level not in ("word", "char"):
            raise ValueError(f"Tokenizer: level must be 'word' or 'char', got {level!r}")
        self.level, self.lower = level, lower
        self.strip_punctuation = (level == "word") if strip_punctuation is None \
            else bool(strip_punctuation)

    def __call__(self, text: str) -> list:
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer: expected a str, got {type(text).__name__}")
        text = standardize(text, self.lower, self.strip_punctuation)
        return text.split() if self.level == "word" else list(text)

    def __repr__(self):
        return (f"Tokenizer(level={self.level!r}, lower={self.lower}, "
                f"strip_punctuation={self.strip_punctuation})")
