"""Protocol-buffer binary wire format for the messages in ``schema`` (Caffe's ``.caffemodel``,
``.binaryproto``, ``.solverstate`` files and LMDB ``Datum`` records).

A message is a sequence of (key, value) pairs, key = field_number << 3 | wire_type, with wire
types 0 varint (ints, bools, enums; negative ints as 10-byte two's complement), 1 fixed 64-bit
(double), 2 length-delimited (strings, bytes, sub-messages, packed repeated numbers) and
5 fixed 32-bit (float). The decoder skips fields it does not know (as protobuf does), accepts
repeated numbers packed or not, and returns packed float/double fields as NumPy arrays.
"""
import struct

import numpy as np

from .errors import CaffeError
from .message import Msg
from .schema import BY_NUMBER, ENUMS, MESSAGES

_VARINT_KINDS = ("int32", "int64", "uint32", "uint64", "bool", "enum")
_FIXED = {"float": (5, "<f4", 4), "double": (1, "<f8", 8)}


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(number, wire):
    return _varint(number << 3 | wire)


def _int_value(f, v):
    if f.kind == "bool":
        return int(bool(v))
    if f.kind == "enum":
        return ENUMS[f.type][v] if isinstance(v, str) else int(v)
    return int(v)


def _encode_field(f, value, out):
    values = value if f.repeated else [value]
    if f.kind == "message":
        for v in values:
            body = encode(v)
            out += _key(f.number, 2) + _varint(len(body)) + body
    elif f.kind in ("string", "bytes"):
        for v in values:
            b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            out += _key(f.number, 2) + _varint(len(b)) + b
    elif f.kind in _FIXED:
        wire, dtype, _ = _FIXED[f.kind]
        arr = np.asarray(values, dtype=dtype).reshape(-1)
        if f.packed:
            if arr.size:
                body = arr.tobytes()
                out += _key(f.number, 2) + _varint(len(body)) + body
        else:
            k = _key(f.number, wire)
            for x in arr:
                out += k + x.tobytes()
    else:
        ints = [_int_value(f, v) for v in values]
        if f.packed:
            if ints:
                body = b"".join(_varint(i) for i in ints)
                out += _key(f.number, 2) + _varint(len(body)) + body
        else:
            k = _key(f.number, 0)
            for i in ints:
                out += k + _varint(i)


def encode(msg: Msg) -> bytes:
    """The wire bytes of ``msg`` (fields in field-number order, as protobuf writes them)."""
    fields = MESSAGES[msg._type]
    out = bytearray()
    for name in sorted(msg._fields, key=lambda n: fields[n].number):
        _encode_field(fields[name], msg._fields[name], out)
    return bytes(out)


def _read_varint(buf, pos, end):
    result, shift = 0, 0
    while True:
        if pos >= end:
            raise CaffeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise CaffeError("varint too long")


def _signed(kind, v):
    if kind in ("int32", "int64") and v >= 1 << 63:
        v -= 1 << 64
    return v


def _from_varint(f, v):
    if f.kind == "bool":
        return bool(v)
    if f.kind == "enum":
        names = {n: k for k, n in ENUMS[f.type].items()}
        return names.get(v, v)
    return _signed(f.kind, v)


def _decode(buf, pos, end, type_name, origin):
    msg = Msg(type_name, origin)
    known = BY_NUMBER[type_name]
    store = msg._fields
    while pos < end:
        key, pos = _read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        f = known.get(number)
        if wire == 0:
            v, pos = _read_varint(buf, pos, end)
            value = None if f is None else _from_varint(f, v)
        elif wire == 1 or wire == 5:
            n = 8 if wire == 1 else 4
            if pos + n > end:
                raise CaffeError(f"{origin}: truncated {type_name}")
            value = None if f is None else struct.unpack_from("<d" if wire == 1 else "<f",
                                                               buf, pos)[0]
            pos += n
        elif wire == 2:
            n, pos = _read_varint(buf, pos, end)
            if pos + n > end:
                raise CaffeError(f"{origin}: truncated {type_name} (field {number} wants {n} "
                                 f"bytes, {end - pos} left)")
            value = None
            if f is not None:
                if f.kind == "message":
                    value = _decode(buf, pos, pos + n, f.type, origin)
                elif f.kind == "string":
                    value = bytes(buf[pos:pos + n]).decode("utf-8", "replace")
                elif f.kind == "bytes":
                    value = bytes(buf[pos:pos + n])
                elif f.kind in _FIXED:  # packed floats / doubles
                    value = np.frombuffer(bytes(buf[pos:pos + n]), _FIXED[f.kind][1]).copy()
                else:  # packed varints: several values in one field
                    vals, p = [], pos
                    while p < pos + n:
                        v, p = _read_varint(buf, p, pos + n)
                        vals.append(_from_varint(f, v))
                    store.setdefault(f.name, []).extend(vals)
                    f = None  # stored already
            pos += n
        else:
            raise CaffeError(f"{origin}: unsupported wire type {wire} in {type_name} (field "
                             f"{number}); the file is not a {type_name}")
        if f is None or value is None:
            continue
        if f.repeated:
            cur = store.get(f.name)
            if isinstance(value, np.ndarray):
                store[f.name] = value if cur is None or len(cur) == 0 else \
                    np.concatenate([np.asarray(cur, value.dtype), value])
            elif isinstance(cur, np.ndarray):
                store[f.name] = np.append(cur, np.asarray(value, cur.dtype))
            else:
                store.setdefault(f.name, []).append(value)
        else:
            store[f.name] = value
    return msg


def decode(data: bytes, type_name: str, origin: str = "") -> Msg:
    """Parse wire bytes as ``type_name``; a broken file is a CaffeError naming ``origin``."""
    buf = memoryview(data) if not isinstance(data, memoryview) else data
    try:
        return _decode(buf, 0, len(buf), type_name, origin)
    except CaffeError:
        raise
    except (IndexError, struct.error, ValueError) as e:
        raise CaffeError(f"{origin}: not a valid {type_name} ({e})") from None
