"""A tiny protobuf *writer*: just the wire types TensorBoard events use.

Each helper returns the encoded bytes of one field; a message is the
concatenation of its fields, and a sub-message is embedded with ``message``.
"""

import struct

import numpy as np


def varint(n):
    n &= (1 << 64) - 1  # negative int64/int32 are sent as 10-byte two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field, wire):
    return varint(field << 3 | wire)


def uint(field, n):
    """int32/int64/uint/bool/enum field (wire type 0)."""
    return _key(field, 0) + varint(int(n))


def double(field, x):
    return _key(field, 1) + struct.pack("<d", float(x))


def float32(field, x):
    return _key(field, 5) + struct.pack("<f", float(x))


def blob(field, data):
    """bytes field (wire type 2)."""
    data = bytes(data)
    return _key(field, 2) + varint(len(data)) + data


def string(field, text):
    return blob(field, str(text).encode("utf-8"))


def message(field, *parts):
    return blob(field, b"".join(parts))


def packed_doubles(field, values):
    return blob(field, np.asarray(values, dtype="<f8").tobytes())
