"""``keras.datasets``: ``mnist.load_data()`` and ``fashion_mnist.load_data()`` return
``(x_train, y_train), (x_test, y_test)`` as uint8 arrays of shapes (60000, 28, 28), (60000,),
(10000, 28, 28), (10000,), as Keras. Files are found as by ``ember.data`` (``EMBER_DATA``,
``~/.ember/data``, Debian's ``dataset-fashion-mnist``), or downloaded with checksums when
``download=True`` and online."""
from types import SimpleNamespace

from ..data import load_fashion_mnist, load_mnist


def _loader(fn):
    def load_data(path=None, download=False):
        return fn(root=path, download=download)
    load_data.__doc__ = f"{fn.__name__}: ((x_train, y_train), (x_test, y_test)) as uint8."
    return load_data


mnist = SimpleNamespace(load_data=_loader(load_mnist))
fashion_mnist = SimpleNamespace(load_data=_loader(load_fashion_mnist))


def _imdb_load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
                    start_char=1, oov_char=2, index_from=3, root=None, download=False):
    """Keras's imdb.load_data (see ember.data.datasets.imdb.load_imdb)."""
    from ..data.datasets.imdb import load_imdb
    return load_imdb(path, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from,
                     root, download)


def _imdb_word_index(path="imdb_word_index.json", root=None, download=False):
    from ..data.datasets.imdb import imdb_word_index
    return imdb_word_index(path, root, download)


imdb = SimpleNamespace(load_data=_imdb_load_data, get_word_index=_imdb_word_index)
