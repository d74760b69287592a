"""CRC-32C (Castagnoli), as TFRecord framing needs; table-driven pure Python."""

_POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _table()


def crc32c(data, crc=0):
    """CRC-32C of ``data`` (bytes-like); pass a previous result as ``crc`` to continue."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    """The rotated-and-offset CRC TFRecord stores (so CRCs of CRCs look random)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
