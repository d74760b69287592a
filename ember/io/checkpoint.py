"""Checkpoints: ``save(obj, path)`` / ``load(path)`` without pickle.

File format (a plain safetensors file, so other tools can read the arrays)::

    bytes 0..8     N, unsigned 64-bit little-endian: length of the header
    bytes 8..8+N   UTF-8 JSON object, padded with spaces to a multiple of 8:
                     {"<name>": {"dtype": "F32", "shape": [2, 3],
                                 "data_offsets": [begin, end]}, ...,
                      "__metadata__": {"format": "ember",
                                       "ember.version": "1",
                                       "ember.tree": "<JSON string>"}}
    bytes 8+N..    the data buffer: every array's raw little-endian C-order
                   bytes, packed back to back; offsets are relative to it.

Array names are the dotted path to the array in ``obj`` (``"model.fc.w"``,
``"layers.0.b"``), made unique with a ``#k`` suffix when paths collide.

``ember.tree`` stores the rest of ``obj`` as JSON where every node is one of:
``null``, ``true``/``false``, an integer, a string, or a one-key object
``{"$float": repr}`` (exact, and allows nan/inf), ``{"$list": [...]}``,
``{"$tuple": [...]}``, ``{"$dict": [[key, node], ...]}`` (keeps order),
``{"$ndarray": name}`` or ``{"$tensor": name}`` (an ember Tensor; a leaf
with ``requires_grad`` adds ``"requires_grad": true`` to that object).
The same array object saved twice is stored once and comes back shared.

dtypes: F16 F32 F64 I8 I16 I32 I64 U8 U16 U32 U64 BOOL.  NumPy scalars are
saved as the equivalent Python int/float/bool.

``load`` reads with ``json`` and ``readinto`` only -- never pickle -- and
checks everything before trusting it (shapes, offsets, dtypes, nesting); any
problem raises ``CheckpointError`` naming the file, and anything but a regular
file (a FIFO, a directory) is refused before a read could block.  ``save``
writes a temp file in the target's directory (through symlinks), fsyncs it and
``os.replace``\\ s it in, so a failed save never harms the old file; the old
file's permission bits are kept and temp files of killed saves are removed.
"""

import json
import math
import os
import re
import secrets
import socket
import stat
import struct
import sys
import time

import numpy as np

from .. import backend as _backend

__all__ = ["CheckpointError", "save", "load", "load_safetensors"]

FORMAT_VERSION = "1"
TREE_KEY = "ember.tree"
# safetensors refuses headers above 100 MB; we do the same so a hostile
# length field cannot make us allocate gigabytes before anything is checked.
MAX_HEADER = 100 * 1024 * 1024
MAX_DEPTH = 200  # far beyond any real checkpoint; keeps recursion bounded
MAX_NDIM = 32  # NumPy 1.x's limit (2.x allows 64); no real tensor comes close
MAX_ELEMENTS_BYTES = 1 << 62  # a shape's extent (zeros counted as 1) may not exceed this

_DTYPES = {
    "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
    "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
    "BOOL": np.bool_,
}
_NAMES = {np.dtype(t): name for name, t in _DTYPES.items()}


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted or not an ember/safetensors file."""


# ----------------------------------------------------------------- saving

def _tensor_class():
    try:
        from ember.tensor import Tensor
    except ImportError:
        return None
    return Tensor


def _is_tensor(x, tensor_cls):
    if tensor_cls is not None and isinstance(x, tensor_cls):
        return True
    # Duck-typed fallback so this works while ember.tensor is in flux.
    # (ndarray.data is a memoryview, so plain arrays never match.)
    return not isinstance(x, np.ndarray) and isinstance(getattr(x, "data", None), np.ndarray)


class _Encoder:
    def __init__(self):
        self.tensor_cls = _tensor_class()
        self.arrays = {}      # name -> little-endian contiguous ndarray
        self.by_id = {}       # id(obj) -> (name, obj); obj kept so ids stay valid
        self.active = set()   # ids of containers on the current path (cycles)

    def _name(self, path):
        base = ".".join(path) or "_root"
        name, k = base, 1
        while name in self.arrays or name == "__metadata__":
            name, k = f"{base}#{k}", k + 1
        return name

    def _array(self, obj, arr, tag, path):
        seen = self.by_id.get(id(obj))
        if seen is not None:
            return {tag: seen[0]}
        arr = np.asarray(_backend.to_host(arr))  # device arrays are saved from the host
        if arr.dtype.newbyteorder("=") not in _NAMES:
            where = ".".join(path) or "<root>"
            raise TypeError(f"cannot save array at {where!r}: dtype {arr.dtype} "
                            f"is not one of {sorted(str(d) for d in _NAMES)}")
        name = self._name(path)
        # Not ascontiguousarray: it turns 0-d arrays into shape (1,).
        arr = arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)
        self.arrays[name] = arr
        self.by_id[id(obj)] = (name, obj)
        return {tag: name}

    def encode(self, obj, path=()):
        if len(path) > MAX_DEPTH:
            raise ValueError(f"object nested deeper than {MAX_DEPTH} levels")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return {"$float": repr(float(obj))}
        if isinstance(obj, np.generic) and not isinstance(obj, np.ndarray):
            if isinstance(obj, (np.bool_, np.integer, np.floating)):
                return self.encode(obj.item(), path)
        if isinstance(obj, np.ndarray) or _backend.is_array(obj):
            return self._array(obj, obj, "$ndarray", path)
        if _is_tensor(obj, self.tensor_cls):
            node = self._array(obj, obj.data, "$tensor", path)
            if getattr(obj, "requires_grad", False) is True:
                node = {**node, "requires_grad": True}
            return node
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self.active:
                raise ValueError(f"cannot save a cycle (at {'.'.join(path) or '<root>'!r})")
            self.active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    items = []
                    for k, v in obj.items():
                        if not isinstance(k, str):
                            raise TypeError(f"dict keys must be str, got {type(k).__name__} "
                                            f"key {k!r} at {'.'.join(path) or '<root>'!r}")
                        items.append([k, self.encode(v, path + (k,))])
                    return {"$dict": items}
                tag = "$list" if isinstance(obj, list) else "$tuple"
                return {tag: [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]}
            finally:
                self.active.discard(id(obj))
        where = ".".join(path) or "<root>"
        raise TypeError(f"cannot save object of type {type(obj).__name__} at {where!r}")


def _write_tensor_bytes(f, arr):
    """Write one array's bytes (a seam the tests use to simulate a crash)."""
    if arr.size:
        f.write(memoryview(arr.reshape(-1).view(np.uint8)))


def _fsync_dir(dirname):
    # Makes the rename itself durable; not possible on every OS, so best effort.
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_ACTIVE_TEMPS = set()  # temp files this process is writing right now (never "stale")
_STALE_AFTER = 3600.0  # seconds without a write after which another live writer's temp is stale


def _host_tag():
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _temp_pattern(base):
    # .<name>.<host>-<pid>-<12 hex>.tmp ; the old form .<name>.<12 hex>.tmp is matched too
    return re.compile(rf"\.{re.escape(base)}\.(?:([A-Za-z0-9]*)-(\d+)-)?[0-9a-f]{{12}}\.tmp\Z")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # exists (owned by someone else) or cannot tell: keep its file
    return True


def _remove_stale_temps(dirname, base):
    """Delete temp files a killed save of the same target left behind.

    A temp is stale when its writer is gone: a dead pid on this host, our own pid but not
    a save in progress here (a previous process with the same pid, common in containers),
    or no write to it for ``_STALE_AFTER`` seconds (other hosts, pid reuse)."""
    pattern = _temp_pattern(base)
    try:
        names = os.listdir(dirname)
    except OSError:
        return
    host, me = _host_tag(), os.getpid()
    for name in names:
        m = pattern.match(name)
        if m is None:
            continue
        full = os.path.join(dirname, name)
        if full in _ACTIVE_TEMPS:
            continue
        try:
            age = time.time() - os.lstat(full).st_mtime
        except OSError:
            continue
        stale = age > _STALE_AFTER
        if m.group(2) is not None and m.group(1) == host:
            pid = int(m.group(2))
            stale = stale or pid == me or not _pid_alive(pid)
        if stale:
            try:
                os.unlink(full)
            except OSError:
                pass


def save(obj, path):
    """Save ``obj`` (nested dicts/lists/tuples of scalars, strings, arrays, Tensors) to ``path``.

    The file is written to a temp file next to the target, fsynced and renamed over it, so a
    crash never leaves a half-written checkpoint. A symlink is written through (its target
    is replaced, the link stays), an existing file keeps its permission bits, and temp files
    left by an earlier save of the same target that was killed are removed."""
    path = os.fspath(path)
    enc = _Encoder()
    tree = enc.encode(obj)

    header, offset = {}, 0
    for name, arr in enc.arrays.items():
        header[name] = {"dtype": _NAMES[arr.dtype.newbyteorder("=")], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    header["__metadata__"] = {"format": "ember", "ember.version": FORMAT_VERSION,
                              TREE_KEY: json.dumps(tree, ensure_ascii=False, allow_nan=False)}
    head = json.dumps(header, ensure_ascii=False, allow_nan=False).encode("utf-8")
    head += b" " * (-len(head) % 8)  # safetensors pads to 8 so the buffer starts aligned

    target = os.path.realpath(path)  # through symlinks: replace the file, keep the link
    dirname, base = os.path.split(target)
    if not os.path.isdir(dirname):
        raise FileNotFoundError(f"save: cannot write {path}: directory {dirname} does not exist")
    if os.path.isdir(target):
        raise IsADirectoryError(f"save: cannot write {path}: it is a directory")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the umask decides, as open() would
    _remove_stale_temps(dirname, base)
    tmp = os.path.join(dirname, f".{base}.{_host_tag()}-{os.getpid()}-{secrets.token_hex(6)}.tmp")
    # O_EXCL: never clobber anything; mode 0o666 lets the umask decide, as open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    _ACTIVE_TEMPS.add(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            f.write(struct.pack("<Q", len(head)))
            f.write(head)
            for arr in enc.arrays.values():
                _write_tensor_bytes(f, arr)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        _ACTIVE_TEMPS.discard(tmp)
    _fsync_dir(dirname)


# ---------------------------------------------------------------- loading

def _reject_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise CheckpointError(f"duplicate key {k!r} in JSON")
        out[k] = v
    return out


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _read_header(f, path, size):
    """Parse and validate the header; return (entries, metadata, data_start)."""
    def bad(msg):
        return CheckpointError(f"{path}: {msg}")

    first = f.read(8)
    if len(first) < 8:
        raise bad(f"file is {size} bytes, too short to be a checkpoint (truncated or empty)")
    (n,) = struct.unpack("<Q", first)
    if n < 2 or n > MAX_HEADER or 8 + n > size:
        # Only now guess at the cause: a valid length may start with these bytes.
        if first[:1] == b"\x80" or first[:4] == b"PK\x03\x04":
            raise bad("looks like a pickle or PyTorch (torch.save) file, not a safetensors "
                      "checkpoint; ember never unpickles, so it cannot be read. Convert it "
                      "with torch and the safetensors package first")
    if n < 2 or n > MAX_HEADER:
        raise bad(f"header length field says {n} bytes, which is not plausible "
                  f"(corrupted, or not an ember/safetensors file)")
    if 8 + n > size:
        raise bad(f"header length field says {n} bytes but the file has only {size - 8} "
                  f"after it (truncated or corrupted)")
    raw = f.read(n)
    if len(raw) != n:
        raise bad("file shrank while reading the header")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except CheckpointError as e:
        raise bad(f"header {e}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"header is not valid UTF-8 JSON ({type(e).__name__}: {e}); "
                  f"corrupted or not an ember/safetensors file") from None
    if not isinstance(header, dict):
        raise bad("header JSON is not an object")

    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise bad("__metadata__ must be an object of strings")

    buf_len = size - 8 - n
    entries, spans = {}, []
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets")
        dt, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if not isinstance(dt, str) or dt not in _DTYPES:
            raise bad(f"tensor {name!r}: unsupported dtype {str(dt)[:40]!r} "
                      f"(supported: {', '.join(_DTYPES)})")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise bad(f"tensor {name!r}: shape must be a list of non-negative ints, got "
                      f"{str(shape)[:80]}")
        if len(shape) > MAX_NDIM:
            raise bad(f"tensor {name!r}: {len(shape)} dimensions (at most {MAX_NDIM})")
        # NumPy refuses shapes whose nonzero extents overflow, even with a zero among them
        if math.prod(max(d, 1) for d in shape) * np.dtype(_DTYPES[dt]).itemsize > MAX_ELEMENTS_BYTES:
            raise bad(f"tensor {name!r}: shape {str(shape)[:80]} is absurdly large")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(map(_is_int, offs))
                or not 0 <= offs[0] <= offs[1]):
            raise bad(f"tensor {name!r}: data_offsets must be [begin, end] with "
                      f"0 <= begin <= end, got {offs!r}")
        if offs[1] > buf_len:
            raise bad(f"tensor {name!r}: data_offsets {offs} run past the end of the data "
                      f"buffer ({buf_len} bytes; file truncated?)")
        dtype = np.dtype(_DTYPES[dt]).newbyteorder("<")
        want = math.prod(shape) * dtype.itemsize
        if want != offs[1] - offs[0]:
            raise bad(f"tensor {name!r}: shape {shape} of {dt} needs {want} bytes but "
                      f"data_offsets span {offs[1] - offs[0]}")
        entries[name] = (dtype, tuple(shape), offs[0], offs[1])
        spans.append((offs[0], offs[1], name))

    spans.sort()
    pos, prev = 0, None
    for begin, end, name in spans:
        if begin < pos:
            raise bad(f"tensors {prev!r} and {name!r} have overlapping data_offsets")
        if begin > pos:
            raise bad(f"unused gap of {begin - pos} bytes before tensor {name!r}")
        pos, prev = end, name
    if pos != buf_len:
        raise bad(f"{buf_len - pos} unexplained bytes after the last tensor "
                  f"(corrupted, or header and data do not match)")
    return entries, meta, 8 + n


def _open_regular(path):
    """Open for reading, refusing at once anything but a regular file: ``open`` on a FIFO
    blocks until a writer appears, and a directory is no checkpoint."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(f"{path}: is not a regular file (a FIFO, socket or device?); "
                                  "checkpoints are read from regular files only")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_arrays(path):
    """Validate the file and read every array; return (dict name->ndarray, metadata)."""
    path = os.fspath(path)
    with _open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        entries, meta, start = _read_header(f, path, size)
        arrays = {}
        for name, (dtype, shape, begin, end) in entries.items():
            # readinto an owned, aligned, writable array: one copy, no pickle.
            try:
                arr = np.empty(shape, dtype=dtype)
            except (ValueError, MemoryError) as e:
                raise CheckpointError(f"{path}: tensor {name!r}: cannot allocate shape "
                                      f"{shape} ({e})") from None
            if end > begin:
                f.seek(start + begin)
                got = f.readinto(memoryview(arr.reshape(-1).view(np.uint8)))
                if got != end - begin:
                    raise CheckpointError(f"{path}: tensor {name!r}: file ended early "
                                          f"(truncated while reading)")
            if dtype == np.bool_ and arr.view(np.uint8).max(initial=0) > 1:
                raise CheckpointError(f"{path}: tensor {name!r}: BOOL data holds bytes "
                                      f"other than 0 and 1")
            if sys.byteorder != "little":
                arr = arr.astype(dtype.newbyteorder("="))
            arrays[name] = arr
    return arrays, meta


def load_safetensors(path):
    """Read any safetensors file into a flat ``{name: ndarray}`` dict (metadata ignored)."""
    return _read_arrays(path)[0]


def _decode(node, arrays, path, cache, depth=0, requires_grad=False):
    def bad(msg):
        return CheckpointError(f"{path}: {TREE_KEY}: {msg}")

    if depth > MAX_DEPTH:
        raise bad(f"nested deeper than {MAX_DEPTH} levels")
    if node is None or isinstance(node, (bool, int, str)):
        return node
    if isinstance(node, dict) and set(node) == {"$tensor", "requires_grad"}:
        if node["requires_grad"] is not True:
            raise bad(f"bad requires_grad {node['requires_grad']!r}")
        return _decode({"$tensor": node["$tensor"]}, arrays, path, cache, depth, True)
    if not isinstance(node, dict) or len(node) != 1:
        raise bad(f"malformed node {str(node)[:80]!r}")
    (tag, val), = node.items()
    if tag == "$float":
        try:
            return float(val)
        except (TypeError, ValueError):
            raise bad(f"bad float {val!r}") from None
    if tag in ("$list", "$tuple"):
        if not isinstance(val, list):
            raise bad(f"{tag} must hold a list")
        out = [_decode(v, arrays, path, cache, depth + 1) for v in val]
        return out if tag == "$list" else tuple(out)
    if tag == "$dict":
        if not isinstance(val, list):
            raise bad("$dict must hold a list of [key, value] pairs")
        out = {}
        for item in val:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise bad(f"bad $dict item {str(item)[:80]!r}")
            out[item[0]] = _decode(item[1], arrays, path, cache, depth + 1)
        return out
    if tag in ("$ndarray", "$tensor"):
        if not isinstance(val, str) or val not in arrays:
            raise bad(f"refers to tensor {val!r}, which is not in the file")
        key = (tag, val, requires_grad)
        if key not in cache:  # shared on save -> shared on load
            if tag == "$ndarray":
                cache[key] = arrays[val]
            else:
                from ember.tensor import Tensor
                try:
                    arr = arrays[val]
                    cache[key] = Tensor(arr, requires_grad=True) if requires_grad else Tensor(arr)
                except (TypeError, ValueError, RuntimeError) as e:
                    raise bad(f"tensor {val!r}: {e}") from None
        return cache[key]
    raise bad(f"unknown node type {tag!r}")


def load(path, map_location=None):
    """Load an object written by ``save``.

    Tensors and arrays are saved from whatever device they are on and load on the host;
    ``map_location`` (a device or string such as ``"cuda:0"``) puts every tensor and array
    there instead. A plain safetensors file (no ``ember.tree``) loads as a flat dict of ndarrays.
    """
    if map_location is not None:
        from ..devices import as_device
        dev = as_device(map_location)
        obj = load(path)
        return obj if dev.type == "cpu" else _map_to(obj, dev)
    path = os.fspath(path)
    arrays, meta = _read_arrays(path)
    if TREE_KEY not in meta:
        return arrays
    version = meta.get("ember.version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by ember checkpoint format version {version!r}; "
                              f"this ember reads version {FORMAT_VERSION!r}")
    try:
        tree = json.loads(meta[TREE_KEY])
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: {TREE_KEY} is not valid JSON ({e})") from None
    try:
        return _decode(tree, arrays, path, {})
    except RecursionError:
        raise CheckpointError(f"{path}: {TREE_KEY} is nested too deeply") from None


def _map_to(obj, dev):
    """``obj`` with every tensor and host array moved to device ``dev``."""
    Tensor = _tensor_class()
    if Tensor is not None and isinstance(obj, Tensor):
        obj.data = _backend.move(obj.data, dev)
        return obj
    if isinstance(obj, np.ndarray):
        return _backend.move(obj, dev)
    if isinstance(obj, dict):
        return type(obj)((k, _map_to(v, dev)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_map_to(v, dev) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_map_to(v, dev) for v in obj)
    return obj
