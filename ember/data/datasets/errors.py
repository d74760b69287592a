"""Exceptions raised by the dataset readers."""


class DataFormatError(ValueError):
    """A data file is truncated, corrupt or not in the expected format (message names the file)."""


class DatasetNotFoundError(FileNotFoundError):
    """Dataset files are missing; the message says where we looked and how to get them."""


class ChecksumError(IOError):
    """A downloaded file did not match its published checksum (nothing was kept), or a local
    dataset file of the official shape does not (it is reported, never read)."""
