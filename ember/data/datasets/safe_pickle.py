"""A restricted pickle reader for data files (e.g. CIFAR's python version).

It interprets pickle opcodes itself and never imports or calls anything: only
containers, numbers, strings/bytes, and NumPy arrays (rebuilt by us from their raw
bytes) are accepted. Any other global -- ``os.system``, ``builtins.eval`` ... -- is
refused with an UnsafePickleError before anything could run.

Work and memory are bounded by the input: every opcode does work proportional to what it
reads, and the result's size as a tree is measured (and capped) before it is built, so a
few hundred bytes of repeated memo references cannot describe 2**40 objects. Any malformed
input raises DataFormatError (UnsafePickleError is one).
"""
import math
import re
import struct

import numpy as np

from ._files import open_regular
from .errors import DataFormatError


class UnsafePickleError(DataFormatError):
    """The pickle asks for something outside the data-only subset we accept."""


_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_EMPTY_BYTES = {("__builtin__", "bytes"), ("builtins", "bytes")}  # protocol 2 writes b"" as bytes()
_ALLOWED = _RECONSTRUCT | _EMPTY_BYTES | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
_DTYPE_NAME = re.compile(r"[biufc][0-9]{1,2}\Z")  # e.g. u1, i8, f4, c16, b1
_SCALARS = (str, bytes, int, float, complex, type(None))
_MAX_NDIM = 32
_MAX_DEPTH = 200
# The result, walked as a tree, may be at most EXPANSION bytes (8 per scalar or slot, plus
# string/array payloads) per input byte plus EXPANSION_SLACK: a plain pickle stays far below
# (each opcode byte adds at most one node), a memo bomb is stopped before it is built.
EXPANSION = 64
EXPANSION_SLACK = 1 << 20


class _Global:
    def __init__(self, module, name):
        self.key = (module, name)


class _DtypeStub:
    def __init__(self, name):
        self.name = name
        self.dtype = None


class _ArrayStub:
    def __init__(self):
        self.array = None


def _text(x):
    return x.decode("latin1") if isinstance(x, bytes) else x


def _reduce(func, args, where):
    if not isinstance(func, _Global):
        raise UnsafePickleError(f"{where}: REDUCE on a non-global object is not allowed")
    if not isinstance(args, tuple):
        raise DataFormatError(f"{where}: REDUCE arguments must be a tuple, got {type(args).__name__}")
    if func.key in _RECONSTRUCT:
        return _ArrayStub()
    if func.key == ("numpy", "dtype"):
        name = _text(args[0]) if args else None
        if not isinstance(name, str) or not _DTYPE_NAME.match(name):
            raise UnsafePickleError(f"{where}: dtype {str(name)[:40]!r} is not allowed (only plain "
                                    "bool/int/uint/float/complex; object arrays are refused)")
        return _DtypeStub(name)
    if func.key in _EMPTY_BYTES:
        if args:
            raise UnsafePickleError(f"{where}: bytes() is only accepted without arguments")
        return b""
    if func.key == ("_codecs", "encode"):
        # protocol-2 pickles written by Python 3 store bytes as encode(str, 'latin1')
        if len(args) != 2 or not isinstance(args[0], str) or args[1] != "latin1":
            raise UnsafePickleError(f"{where}: unexpected _codecs.encode arguments")
        try:
            return args[0].encode("latin1")
        except UnicodeEncodeError:
            raise DataFormatError(f"{where}: _codecs.encode text is not latin-1") from None
    raise UnsafePickleError(f"{where}: calling {'.'.join(func.key)} is not allowed")


def _build_dtype(obj, state, where):
    if not isinstance(state, tuple) or len(state) < 2:
        raise DataFormatError(f"{where}: malformed dtype state")
    endian = _text(state[1])
    if not isinstance(endian, str) or endian not in ("<", ">", "|", "="):
        raise DataFormatError(f"{where}: dtype byte order must be one of < > | =")
    if len(state) > 3 and state[3] is not None:
        raise UnsafePickleError(f"{where}: structured dtypes are not supported")
    dt = np.dtype(obj.name)
    obj.dtype = dt.newbyteorder(endian) if endian in "<>" else dt
    return obj


def _build_array(obj, state, where):
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise DataFormatError(f"{where}: malformed ndarray state")
    shape, dtype, fortran, raw = state[-4:]
    if not isinstance(dtype, _DtypeStub) or dtype.dtype is None:
        raise UnsafePickleError(f"{where}: array without a plain dtype")
    if not isinstance(raw, (bytes, bytearray)):
        raise UnsafePickleError(f"{where}: array data must be raw bytes (object arrays refused)")
    if (not isinstance(shape, tuple) or len(shape) > _MAX_NDIM
            or not all(type(d) is int and d >= 0 for d in shape)):
        raise DataFormatError(f"{where}: array shape must be a tuple of at most {_MAX_NDIM} "
                              "non-negative ints")
    # Python ints: no silent int64 wrap-around that could make a huge shape "match".
    want = math.prod(shape) * dtype.dtype.itemsize
    if len(raw) != want:
        raise DataFormatError(f"{where}: array data has {len(raw)} bytes, expected "
                              f"{want} for shape {shape}")
    arr = np.frombuffer(bytes(raw), dtype=dtype.dtype).reshape(shape, order="F" if fortran else "C")
    obj.array = arr.astype(dtype.dtype.newbyteorder("="))
    return obj


def _build(obj, state, where):
    if isinstance(obj, _DtypeStub):
        return _build_dtype(obj, state, where)
    if isinstance(obj, _ArrayStub):
        return _build_array(obj, state, where)
    raise UnsafePickleError(f"{where}: BUILD on {type(obj).__name__} is not allowed")


def _check_key(k, where):
    """Dict keys: scalars or short flat tuples of scalars. Nested tuple keys would let a
    few bytes of memo references cost exponential time to hash."""
    if isinstance(k, _SCALARS):
        return k
    if isinstance(k, tuple) and len(k) <= 16 and all(isinstance(x, _SCALARS) for x in k):
        return k
    raise DataFormatError(f"{where}: dict key of type {type(k).__name__} is not a plain "
                          "scalar (str, bytes, number, None) or a short tuple of them")


class _Finisher:
    """Turn the interpreter's result into plain data, keeping shared objects shared.

    Before anything is built, ``cost`` measures the result as a consumer that walks it
    as a tree (``np.asarray``, ``repr``, ``json``) would see it: memo references let a
    few hundred bytes describe 2**60 nodes, so that size is capped relative to the input.
    """

    def __init__(self, budget, source):
        self.budget, self.source = budget, source
        self.costs, self.on_path, self.done = {}, set(), {}

    def _fail(self, msg):
        raise DataFormatError(f"{self.source}: {msg}")

    def cost(self, x, depth=0):
        if isinstance(x, (bytes, bytearray, str)):
            return 8 + len(x)
        if isinstance(x, _ArrayStub):
            if x.array is None:
                self._fail("pickle holds an ndarray that was never built (BUILD missing)")
            return 8 + x.array.nbytes
        if not isinstance(x, (list, tuple, dict)):
            if isinstance(x, (_Global, _DtypeStub)):
                raise UnsafePickleError(f"{self.source}: pickle result contains a bare global/dtype")
            return 8
        key = id(x)
        if key in self.costs:
            return self.costs[key]
        if key in self.on_path:
            self._fail("pickle holds a self-referencing (recursive) container; data files never do")
        if depth > _MAX_DEPTH:
            self._fail(f"pickle nests containers deeper than {_MAX_DEPTH} levels")
        self.on_path.add(key)
        total = 8
        for v in (x.values() if isinstance(x, dict) else x):
            total += self.cost(v, depth + 1)
            if total > self.budget:
                self._fail(f"pickle expands to more than {self.budget} bytes of data "
                           f"(memo references repeat the same objects; a decompression bomb?)")
        if isinstance(x, dict):
            total += sum(self.cost(k, depth + 1) for k in x)
        self.on_path.discard(key)
        self.costs[key] = total
        return total

    def finish(self, x):
        if isinstance(x, _ArrayStub):
            return x.array
        if not isinstance(x, (list, tuple, dict)):
            return x
        key = id(x)
        if key not in self.done:
            if isinstance(x, dict):
                out = {k: self.finish(v) for k, v in x.items()}
            elif isinstance(x, list):
                out = [self.finish(v) for v in x]
            else:
                out = tuple(self.finish(v) for v in x)
            self.done[key] = out
        return self.done[key]


def safe_loads(data, source="<bytes>"):
    """Decode pickle bytes made only of data (dict/list/tuple/str/bytes/int/float/None/
    bool and NumPy arrays).

    Raises UnsafePickleError for anything else, and DataFormatError (its base) for any
    malformed input; the work and the result are bounded by the input's size (see
    ``EXPANSION``)."""
    data = bytes(data)
    try:
        result = _interpret(data, source)
        finisher = _Finisher(EXPANSION * len(data) + EXPANSION_SLACK, source)
        finisher.cost(result)
        return finisher.finish(result)
    except DataFormatError:
        raise
    except _Malformed as exc:
        at, op, cause = exc.args
        detail = type(cause).__name__  # a KeyError's text would repr the (hostile) key
        if not isinstance(cause, KeyError):
            detail += f": {str(cause)[:120]}"
        raise DataFormatError(f"{source}: malformed pickle at byte {at} (opcode {op!r}): "
                              f"{detail}") from None
    except RecursionError:
        raise DataFormatError(f"{source}: pickle nests too deeply") from None


class _Malformed(Exception):
    """Internal: a Python error raised while interpreting an opcode (-> DataFormatError)."""


def _interpret(data, source):
    stack, memo, marks = [], {}, []
    pos, n = 0, len(data)

    def take(k):
        nonlocal pos
        if pos + k > n:
            raise DataFormatError(f"{source}: truncated pickle at byte {pos}")
        chunk = data[pos:pos + k]
        pos += k
        return chunk

    def pop_mark():
        if not marks:
            raise DataFormatError(f"{source}: pickle MARK missing")
        start = marks.pop()
        if start > len(stack):
            raise DataFormatError(f"{source}: pickle popped below its MARK")
        items = stack[start:]
        del stack[start:]
        return items

    def read_line():
        nonlocal pos
        end = data.find(b"\n", pos)
        if end < 0:
            raise DataFormatError(f"{source}: truncated pickle at byte {pos}")
        line = data[pos:end].decode("ascii", "replace")
        pos = end + 1
        return line

    def check_global(module, name, at):
        if not (isinstance(module, str) and isinstance(name, str)) or (module, name) not in _ALLOWED:
            raise UnsafePickleError(f"{source}: refusing to load global '{str(module)[:80]}."
                                    f"{str(name)[:80]}' (byte {at}): only plain data and NumPy "
                                    "arrays are accepted")
        return _Global(module, name)

    def recall(key, where):
        if key not in memo:
            raise DataFormatError(f"{where}: memo entry {key} was never stored")
        return memo[key]

    while True:
        at = pos
        op = take(1)
        where = f"{source} (byte {at})"
        try:
            if op == b"\x80":
                take(1)
            elif op == b"\x95":
                take(8)
            elif op == b".":
                break
            elif op == b"(":
                marks.append(len(stack))
            elif op == b"}":
                stack.append({})
            elif op == b"]":
                stack.append([])
            elif op == b")":
                stack.append(())
            elif op == b"t":
                stack.append(tuple(pop_mark()))
            elif op in (b"\x85", b"\x86", b"\x87"):
                k = op[0] - 0x84
                if len(stack) < k:
                    raise DataFormatError(f"{where}: TUPLE{k} needs {k} items on the stack")
                items = tuple(stack[-k:])
                del stack[-k:]
                stack.append(items)
            elif op == b"a":
                v = stack.pop()
                stack[-1].append(v)
            elif op == b"e":
                items = pop_mark()
                stack[-1].extend(items)
            elif op == b"s":
                v, k = stack.pop(), stack.pop()
                stack[-1][_check_key(k, where)] = v
            elif op == b"u":
                items = pop_mark()
                d = stack[-1]
                if len(items) % 2:
                    raise DataFormatError(f"{where}: SETITEMS with an odd number of items")
                for i in range(0, len(items), 2):
                    d[_check_key(items[i], where)] = items[i + 1]
            elif op == b"q":
                memo[take(1)[0]] = stack[-1]
            elif op == b"r":
                memo[struct.unpack("<I", take(4))[0]] = stack[-1]
            elif op == b"\x94":
                memo[len(memo)] = stack[-1]
            elif op == b"h":
                stack.append(recall(take(1)[0], where))
            elif op == b"j":
                stack.append(recall(struct.unpack("<I", take(4))[0], where))
            elif op == b"J":
                stack.append(struct.unpack("<i", take(4))[0])
            elif op == b"K":
                stack.append(take(1)[0])
            elif op == b"M":
                stack.append(struct.unpack("<H", take(2))[0])
            elif op == b"\x8a":
                stack.append(int.from_bytes(take(take(1)[0]), "little", signed=True))
            elif op == b"G":
                stack.append(struct.unpack(">d", take(8))[0])
            elif op == b"N":
                stack.append(None)
            elif op == b"\x88":
                stack.append(True)
            elif op == b"\x89":
                stack.append(False)
            elif op in (b"U", b"C"):
                stack.append(take(take(1)[0]))
            elif op in (b"T", b"B"):
                stack.append(take(struct.unpack("<I", take(4))[0]))
            elif op == b"\x8e":
                stack.append(take(struct.unpack("<Q", take(8))[0]))
            elif op == b"\x8c":
                stack.append(take(take(1)[0]).decode("utf-8"))
            elif op == b"X":
                stack.append(take(struct.unpack("<I", take(4))[0]).decode("utf-8"))
            elif op == b"\x8d":
                stack.append(take(struct.unpack("<Q", take(8))[0]).decode("utf-8"))
            elif op == b"c":
                module = read_line()
                stack.append(check_global(module, read_line(), at))
            elif op == b"\x93":
                name, module = stack.pop(), stack.pop()
                stack.append(check_global(module, name, at))
            elif op == b"R":
                args, func = stack.pop(), stack.pop()
                stack.append(_reduce(func, args, where))
            elif op == b"b":
                state = stack.pop()
                stack[-1] = _build(stack[-1], state, where)
            elif op == b"0":
                stack.pop()
            elif op == b"1":
                pop_mark()
            elif op == b"2":
                stack.append(stack[-1])
            else:
                raise UnsafePickleError(f"{where}: pickle opcode {op!r} is not in the accepted "
                                        "data-only subset")
        except DataFormatError:
            raise
        except (IndexError, KeyError, TypeError, AttributeError, ValueError, OverflowError,
                struct.error) as exc:
            # e.g. popping an empty stack, appending to a dict, an unhashable key
            raise _Malformed(at, op, exc) from None
    if len(stack) != 1:
        raise DataFormatError(f"{source}: malformed pickle (stack has {len(stack)} items at STOP)")
    return stack[0]


def safe_load(path):
    """``safe_loads`` on a file's bytes; errors name the file."""
    f, _ = open_regular(path)
    with f:
        return safe_loads(f.read(), source=str(path))
