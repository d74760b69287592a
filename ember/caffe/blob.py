"""NumPy arrays to and from Caffe's ``BlobProto`` (weights, means) and ``Datum`` (one
database record: an image as C x H x W bytes or floats, or an encoded PNG/JPEG, and a label).
"""
import io
from typing import Optional, Tuple

import numpy as np

from .errors import CaffeError
from .message import Msg
from .wire import decode, encode


def blob_to_array(blob: Msg) -> np.ndarray:
    """The array a BlobProto holds, shaped by ``shape`` (or the legacy num/channels/height/
    width); float32 data, or float64 when the blob stores ``double_data``."""
    if blob.has("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    elif any(blob.has(k) for k in ("num", "channels", "height", "width")):
        shape = (blob.num, blob.channels, blob.height, blob.width)
    else:
        shape = None
    data = blob.double_data if len(blob.double_data) else blob.data
    arr = np.asarray(data, np.float64 if len(blob.double_data) else np.float32)
    if shape is None:
        return arr
    if int(np.prod(shape, dtype=np.int64)) != arr.size:
        raise CaffeError(f"BlobProto of shape {shape} holds {arr.size} values")
    return arr.reshape(shape)


def array_to_blob(arr, legacy_4d: bool = False) -> Msg:
    """A BlobProto with ``shape`` and float32 ``data`` (``legacy_4d``: num/channels/height/
    width instead, as Caffe's compute_image_mean writes means)."""
    a = np.asarray(arr)
    blob = Msg("BlobProto", data=np.ascontiguousarray(a, np.float32).reshape(-1))
    if legacy_4d:
        shp = (1,) * (4 - a.ndim) + tuple(a.shape)
        if len(shp) != 4:
            raise CaffeError(f"a legacy 4-D blob needs at most 4 axes, got shape {a.shape}")
        blob.num, blob.channels, blob.height, blob.width = shp
    else:
        blob.shape = Msg("BlobShape", dim=[int(d) for d in a.shape])
    return blob


def read_binaryproto(path) -> np.ndarray:
    """A ``.binaryproto`` file (one BlobProto, e.g. Caffe's image mean) as an array."""
    import os
    if not os.path.isfile(path):
        raise CaffeError(f"{path}: no such file (mean_file)")
    with open(path, "rb") as fh:
        return blob_to_array(decode(fh.read(), "BlobProto", str(path)))


def write_binaryproto(path, arr, legacy_4d: bool = True) -> None:
    with open(path, "wb") as fh:
        fh.write(encode(array_to_blob(arr, legacy_4d)))


def encode_datum(image: np.ndarray, label: int) -> bytes:
    """One Datum record: uint8 images as bytes, other dtypes as float_data; (H, W) is one
    channel, (C, H, W) as given (Caffe's layout)."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise CaffeError(f"a Datum holds a (C, H, W) or (H, W) image, got shape {a.shape}")
    c, h, w = a.shape
    d = Msg("Datum", channels=c, height=h, width=w, label=int(label))
    if a.dtype == np.uint8:
        d.data = np.ascontiguousarray(a).tobytes()
    else:
        d.float_data = np.ascontiguousarray(a, np.float32).reshape(-1)
    return encode(d)


def _decode_image(data: bytes, force_color: bool, force_gray: bool, origin: str):
    try:
        from PIL import Image
    except ImportError:
        raise CaffeError(f"{origin}: the database holds encoded images (PNG/JPEG); decoding "
                         "them needs Pillow: pip install 'ember[images]'") from None
    img = Image.open(io.BytesIO(data))
    if force_gray or (not force_color and img.mode in ("1", "L", "LA", "I", "I;16", "F")):
        return np.asarray(img.convert("L"), np.uint8)[None]
    rgb = np.asarray(img.convert("RGB"), np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1].transpose(2, 0, 1))  # BGR, as OpenCV gives Caffe


def _raw_datum(raw: bytes):
    """Fast path for the common record (channels, height, width, data bytes, label; varints and
    one bytes field): (shape, data, label), or None to use the general decoder."""
    vals, pos, end, data = {}, 0, len(raw), None
    while pos < end:
        key = raw[pos]
        pos += 1
        if key == 0x22:  # field 4 (data), wire type 2
            n, shift = 0, 0
            while True:
                b = raw[pos]
                pos += 1
                n |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
            data = raw[pos:pos + n]
            pos += n
        elif key in (0x08, 0x10, 0x18, 0x28):  # fields 1, 2, 3, 5 as varints
            v, shift = 0, 0
            while True:
                b = raw[pos]
                pos += 1
                v |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
            vals[key >> 3] = v
        else:
            return None
    if data is None or pos != end:
        return None
    label = vals.get(5, 0)
    if label >= 1 << 63:
        label -= 1 << 64
    return (vals.get(1, 0), vals.get(2, 0), vals.get(3, 0)), data, label


def decode_datum(raw: bytes, origin: str = "", force_color: bool = False,
                 force_gray: bool = False) -> Tuple[np.ndarray, int]:
    """(image (C, H, W) uint8 or float32, label) from a Datum record; encoded images are
    decoded with Pillow (colour as BGR, Caffe's channel order)."""
    fast = _raw_datum(raw)
    if fast is not None:
        shape, data, label = fast
        if len(data) == shape[0] * shape[1] * shape[2]:
            return np.frombuffer(data, np.uint8).reshape(shape), int(label)
    d = decode(raw, "Datum", origin)
    if d.encoded:
        return _decode_image(d.data, force_color, force_gray, origin), int(d.label)
    shape = (d.channels, d.height, d.width)
    n = shape[0] * shape[1] * shape[2]
    if len(d.data):
        if len(d.data) != n:
            raise CaffeError(f"{origin}: Datum of shape {shape} holds {len(d.data)} bytes")
        img = np.frombuffer(d.data, np.uint8).reshape(shape)
    else:
        img = np.asarray(d.float_data, np.float32)
        if img.size != n:
            raise CaffeError(f"{origin}: Datum of shape {shape} holds {img.size} floats")
        img = img.reshape(shape)
    return img, int(d.label)


def datum_shape(raw: bytes, origin: str = "") -> Optional[Tuple[int, int, int]]:
    img, _ = decode_datum(raw, origin)
    return tuple(img.shape)
