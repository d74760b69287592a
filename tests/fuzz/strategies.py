"""Hypothesis strategies for the fuzz suite: valid seed files and mutations of them.

The mutations are generic (bit flips, byte overwrites, insertions, deletions, duplicated
spans, truncation) plus format-aware ones (pickle opcodes, IDX header fields, checkpoint
JSON fields), so the readers see both garbage and almost-valid hostile files.
"""
import gzip
import json
import os
import pickle
import struct
import tracemalloc

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# A fixed, derandomized profile: the same examples on every run (CI stability); scale up
# locally with EMBER_FUZZ_EXAMPLES=2000 to search harder.
EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def peak_bytes(fn, *args):
    """(peak traced allocation in bytes, exception or None) while fn(*args) runs.
    NumPy reports its buffers to tracemalloc, so arrays count."""
    tracemalloc.start()
    exc = None
    try:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - the caller checks the type
            exc = e
        return tracemalloc.get_traced_memory()[1], exc
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- generic mutations
@st.composite
def mutated(draw, seeds, alphabet=None, max_ops=4):
    """One of ``seeds`` with 1..max_ops random edits; inserted bytes come from ``alphabet``
    (format-aware chunks) or are arbitrary."""
    data = bytearray(draw(st.sampled_from(seeds)))
    insert = st.binary(min_size=1, max_size=8)
    if alphabet:
        insert = st.one_of(insert, st.sampled_from(alphabet))
    for _ in range(draw(st.integers(1, max_ops))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "dup", "truncate"]))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[i] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[i:i] = draw(insert)
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        elif kind == "dup":
            j = min(len(data), i + draw(st.integers(1, 32)))
            data[j:j] = data[i:j] * draw(st.integers(1, 4))
        else:
            del data[i:]
    return bytes(data)


# ---------------------------------------------------------------- CIFAR pickles
def cifar_pickle_seeds():
    rng = np.random.default_rng(0)
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": [3, 1, 4, 1],
             b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
             b"filenames": [b"a.png", b"b.png", b"c.png", b"d.png"]}
    small = {"labels": [0, 9], "data": np.arange(8, dtype=np.uint8).reshape(2, 4),
             "coarse": (1.5, None, True), "x": np.zeros((0, 3), np.float32)}
    return [pickle.dumps(b, protocol=p) for b in (batch, small) for p in (2, 3, 4)]


# chunks of pickle opcodes: memo puts/gets, DUP, MARK/APPENDS/SETITEMS, containers,
# globals, REDUCE/BUILD -- the material the memo bombs and type confusions are made of
PICKLE_OPS = [b"h\x00", b"h\x01", b"h\x02", b"q\x00", b"q\x01", b"\x94", b"2", b"(", b"e", b"u",
              b"a", b"s", b"t", b"]", b"}", b")", b"\x85", b"\x86", b"\x87", b"0", b"1",
              b"R", b"b", b"K\x05", b"\x8a\x09" + b"\xff" * 9, b"N", b"\x88",
              b"cnumpy\ndtype\n", b"cnumpy.core.multiarray\n_reconstruct\n",
              b"c_codecs\nencode\n", b"cos\nsystem\n", b"\x8c\x02u1", b"\x8c\x01|",
              b"(h\x00h\x00e", b"](h\x00h\x00eq\x00" * 4]


# ---------------------------------------------------------------- IDX files
def idx_bytes(array):
    from ember.data.datasets.idx import _CODES, _TYPES
    code = _CODES[array.dtype.newbyteorder("=")]
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return head + array.astype(_TYPES[code]).tobytes()


def idx_seeds():
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (3, 4, 4), dtype=np.uint8), np.arange(10, dtype=np.uint8),
              np.array([-5, 70000], np.int32), np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3),
              np.zeros((2, 0), np.float64)]
    raw = [idx_bytes(a) for a in arrays]
    return raw + [gzip.compress(r, mtime=0) for r in raw]


@st.composite
def idx_headers(draw):
    """A syntactically plausible IDX file with hostile header fields, raw or gzipped."""
    code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    ndim = draw(st.integers(0, 40))
    dims = draw(st.lists(st.one_of(st.integers(0, 4), st.integers(0, 2 ** 32 - 1),
                                   st.sampled_from([2 ** 16, 2 ** 31, 2 ** 32 - 1])),
                         min_size=ndim, max_size=ndim))
    body = bytes([0, 0, code, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)
    payload = draw(st.sampled_from([b"", b"\0" * 7, b"\x01" * 64]))
    if draw(st.booleans()):
        tail = draw(st.sampled_from(_ZERO_MEMBERS))  # a small bomb tail as a second member
        return gzip.compress(body + payload, mtime=0) + tail
    return body + payload


_ZERO_MEMBERS = [b"", gzip.compress(bytes(1 << 16), mtime=0), gzip.compress(bytes(1 << 22), mtime=0)]


# ---------------------------------------------------------------- checkpoints
def checkpoint_seed(directory):
    """Bytes of a valid ember checkpoint with every kind of node and several dtypes."""
    import ember
    from ember.io import save
    obj = {"model": {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.zeros(3)},
           "epoch": 3, "lr": 0.1, "t": (1, None, [True, "x"]), "i": np.array([1, 2], np.int64),
           "T": ember.Tensor(np.ones(2, np.float32), requires_grad=True), "flag": np.array(True)}
    path = os.path.join(directory, "seed.ember")
    save(obj, path)
    with open(path, "rb") as f:
        return f.read()


def split_checkpoint(data):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join_checkpoint(header, buffer):
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + buffer


HOSTILE_VALUES = st.one_of(
    st.integers(-2 ** 70, 2 ** 70), st.sampled_from([2 ** 63, 2 ** 64 + 1, -1, 0, 10 ** 40]),
    st.floats(allow_nan=True), st.text(max_size=5), st.none(), st.booleans(),
    st.lists(st.integers(-3, 2 ** 40), max_size=70), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def checkpoint_header_edits(draw, seed_bytes):
    """The seed checkpoint with one header field (a tensor's dtype/shape/offsets, or a node
    of the ember.tree) replaced by a hostile value."""
    header, buffer = split_checkpoint(seed_bytes)
    names = sorted(k for k in header if k != "__metadata__")
    if draw(st.booleans()):
        name = draw(st.sampled_from(names))
        field = draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
        header[name][field] = draw(HOSTILE_VALUES)
    else:
        tree = json.loads(header["__metadata__"]["ember.tree"])
        items = tree["$dict"]
        k = draw(st.integers(0, len(items) - 1))
        items[k][1] = draw(st.one_of(HOSTILE_VALUES, st.fixed_dictionaries(
            {draw(st.sampled_from(["$float", "$list", "$tuple", "$dict", "$ndarray", "$tensor", "$x"])):
             HOSTILE_VALUES})))
        header["__metadata__"]["ember.tree"] = json.dumps(tree)
    return join_checkpoint(header, buffer)


__all__ = ["FUZZ", "peak_bytes", "mutated", "cifar_pickle_seeds", "PICKLE_OPS", "idx_seeds",
           "idx_headers", "checkpoint_seed", "checkpoint_header_edits"]
