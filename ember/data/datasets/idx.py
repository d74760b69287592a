"""IDX file format (MNIST family): big-endian header + raw array, optionally gzipped.

Header: 2 zero bytes, a type code, the number of dimensions d, then d big-endian
uint32 sizes; the payload is prod(sizes) items of that type, big-endian.
"""
import gzip
import zlib
from pathlib import Path

import numpy as np

from .errors import DataFormatError

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}


def read_bytes(path):
    """File contents, transparently gunzipped (detected by magic bytes, not by name)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataFormatError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    return raw


def read_idx(path, expected_ndim=None):
    """Read an IDX file (``.gz`` or not) into a native-endian NumPy array."""
    raw = read_bytes(path)
    if len(raw) < 4:
        raise DataFormatError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DataFormatError(f"{path}: not an IDX file (magic bytes {raw[:4].hex()}; expected "
                              f"00 00 <type in {sorted(hex(k) for k in _TYPES)}> <ndim>)")
    dtype, ndim = _TYPES[raw[2]], raw[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataFormatError(f"{path}: IDX file has {ndim} dimensions, expected {expected_ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(f"{path}: truncated IDX header")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DataFormatError(f"{path}: IDX file {what}: header says shape {shape} "
                              f"({expected} data bytes) but found {got}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


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
