"""Minimal PNG encoder (8-bit gray / RGB / RGBA, no filtering) using zlib."""

import struct
import zlib

import numpy as np

_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(hwc):
    """Encode a uint8 array of shape (H, W, C), C in 1..4, as PNG bytes."""
    hwc = np.asarray(hwc)
    if hwc.dtype != np.uint8 or hwc.ndim != 3 or hwc.shape[2] not in _COLOR_TYPE:
        raise ValueError(f"encode_png needs uint8 (H, W, 1|2|3|4), got {hwc.dtype} {hwc.shape}")
    h, w, c = hwc.shape
    if h == 0 or w == 0:
        raise ValueError("PNG images must be at least 1x1")
    # Each scanline starts with its filter type; 0 = none.
    rows = np.concatenate([np.zeros((h, 1), np.uint8), hwc.reshape(h, w * c)], axis=1)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPE[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b""))
