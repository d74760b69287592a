"""Opening data files safely: regular files only, refused at once otherwise."""
import os
import stat
from pathlib import Path

from .errors import DataFormatError


def open_regular(path):
    """Open ``path`` for reading, refusing at once anything but a regular file (a FIFO
    would block ``open`` forever, a directory gives a cryptic error)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except IsADirectoryError:
        raise DataFormatError(f"{path}: is a directory, not a data file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (FIFO/device?)"
            raise DataFormatError(f"{path}: is {kind}, not a data file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise
