"""Errors of the Caffe front end. Each names what was wrong and where (file:line:column for
text files, the path for missing files, the layer for layers that do not fit)."""


class CaffeError(ValueError):
    """A Caffe net, solver, database or weights file that ember cannot use as given."""


class PrototxtError(CaffeError):
    """A problem at a place in a prototxt file; the message starts with ``file:line:column:``."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
