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
