"""IDX file format (MNIST family): big-endian header + raw array, optionally gzipped.

Header: 2 zero bytes, a type code, the number of dimensions d, then d big-endian
uint32 sizes; the payload is prod(sizes) items of that type, big-endian.
"""
import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ._files import open_regular
from .errors import DataFormatError

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}


# Deflate cannot expand data more than ~1032:1 (a 258-byte match costs at least 2 bits), so a
# header declaring more than this many bytes per compressed byte is a lie, found before any
# decompression work.
_MAX_GZIP_RATIO = 1032
_GZIP_SLACK = 1 << 16
_CHUNK = 1 << 20


def read_bytes(path):
    """File contents, transparently gunzipped (detected by magic bytes, not by name)."""
    path = Path(path)
    f, _ = open_regular(path)
    with f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataFormatError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    return raw


def _read_exact(f, n, path, what):
    data = f.read(n)
    if len(data) != n:
        raise DataFormatError(f"{path}: truncated IDX {what} ({len(data)} of {n} bytes)")
    return data


def read_idx(path, expected_ndim=None):
    """Read an IDX file (``.gz`` or not) into a native-endian NumPy array.

    Memory and work are bounded by the file: the header's declared size is checked against
    what the file can hold before the data is read, and gzip data is decompressed in chunks
    into a buffer of exactly that size. Any malformed file raises DataFormatError."""
    return _read_idx(path, expected_ndim)


def _read_idx(path, expected_ndim=None, hasher=None):
    """``read_idx``; ``hasher`` (a hashlib object) is fed the decompressed bytes."""
    path = Path(path)
    f, size = open_regular(path)
    with f:
        gz = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f, mode="rb") if gz else f
        try:
            return _parse(stream, path, size, gz, expected_ndim, hasher)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataFormatError(f"{path}: truncated or corrupt gzip data ({exc})") from None


def _parse(stream, path, size, gz, expected_ndim, hasher):
    head = stream.read(4)
    if len(head) < 4:
        raise DataFormatError(f"{path}: too short for an IDX header ({len(head)} bytes)")
    if head[0] != 0 or head[1] != 0 or head[2] not in _TYPES:
        raise DataFormatError(f"{path}: not an IDX file (magic bytes {head.hex()}; expected "
                              f"00 00 <type in {sorted(hex(k) for k in _TYPES)}> <ndim>)")
    dtype, ndim = _TYPES[head[2]], head[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataFormatError(f"{path}: IDX file has {ndim} dimensions, expected {expected_ndim}")
    dims = _read_exact(stream, 4 * ndim, path, "header")
    shape = tuple(int.from_bytes(dims[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
    header = 4 + 4 * ndim
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if not gz and size - header != expected:
        got = size - header
        what = "truncated" if got < expected else "has trailing bytes"
        raise DataFormatError(f"{path}: IDX file {what}: header says shape {shape} "
                              f"({expected} data bytes) but found {got}")
    if gz and expected > _MAX_GZIP_RATIO * size + _GZIP_SLACK:
        raise DataFormatError(f"{path}: IDX header says shape {shape} ({expected} data bytes), "
                              f"more than a {size}-byte gzip file can hold (corrupt header or "
                              "a decompression bomb)")
    if ndim > 32:
        raise DataFormatError(f"{path}: IDX file has {ndim} dimensions (at most 32 supported)")
    if hasher is not None:
        hasher.update(head + dims)
    buf = np.empty(expected, dtype=np.uint8)
    view, got = memoryview(buf), 0
    while got < expected:
        n = stream.readinto(view[got:got + _CHUNK])
        if not n:
            raise DataFormatError(f"{path}: IDX file truncated: header says shape {shape} "
                                  f"({expected} data bytes) but found {got}")
        if hasher is not None:
            hasher.update(view[got:got + n])
        got += n
    if gz and stream.read(1):  # reading to the end also checks the gzip CRC
        raise DataFormatError(f"{path}: IDX file has trailing bytes after the {expected} "
                              f"data bytes of shape {shape}")
    try:
        data = buf.view(dtype).reshape(shape)
    except ValueError as exc:
        raise DataFormatError(f"{path}: IDX shape {shape} is not a valid array shape ({exc})") from None
    return data.astype(dtype.newbyteorder("="), copy=False)


def write_idx(path, array, compress=None):
    """Write ``array`` as IDX (gzipped if ``compress`` or the name ends in .gz)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX type code")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(_TYPES[code]).tobytes()
    path = Path(path)
    if compress or (compress is None and path.suffix == ".gz"):
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path
