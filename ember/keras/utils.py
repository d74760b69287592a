"""``keras.utils``: to_categorical."""
from ..data import to_categorical  # noqa: F401
