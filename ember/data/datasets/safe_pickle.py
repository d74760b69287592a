"""A restricted pickle reader for data files (e.g. CIFAR's python version).

It interprets pickle opcodes itself and never imports or calls anything: only
containers, numbers, strings/bytes, and NumPy arrays (rebuilt by us from their raw
bytes) are accepted. Any other global -- ``os.system``, ``builtins.eval`` ... -- is
refused with an UnsafePickleError before anything could run.
"""
import struct

import numpy as np

from .errors import DataFormatError


class UnsafePickleError(DataFormatError):
    """The pickle asks for something outside the data-only subset we accept."""


_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_ALLOWED = _RECONSTRUCT | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


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


class _Mark:
    pass


_MARK = _Mark()


def _text(x):
    return x.decode("latin1") if isinstance(x, bytes) else x


def _reduce(func, args, where):
    if not isinstance(func, _Global):
        raise UnsafePickleError(f"{where}: REDUCE on a non-global object is not allowed")
    if func.key in _RECONSTRUCT:
        return _ArrayStub()
    if func.key == ("numpy", "dtype"):
        return _DtypeStub(_text(args[0]))
    if func.key == ("_codecs", "encode"):
        # protocol-2 pickles written by Python 3 store bytes as encode(str, 'latin1')
        if len(args) != 2 or not isinstance(args[0], str) or args[1] != "latin1":
            raise UnsafePickleError(f"{where}: unexpected _codecs.encode arguments")
        return args[0].encode("latin1")
    raise UnsafePickleError(f"{where}: calling {'.'.join(func.key)} is not allowed")


def _build(obj, state, where):
    if isinstance(obj, _DtypeStub):
        endian = _text(state[1]) if isinstance(state, tuple) and len(state) > 1 else "="
        if len(state) > 3 and state[3] is not None:
            raise UnsafePickleError(f"{where}: structured dtypes are not supported")
        dt = np.dtype(obj.name)
        if dt.kind == "O":
            raise UnsafePickleError(f"{where}: object arrays are not allowed")
        obj.dtype = dt.newbyteorder(endian) if endian in "<>" else dt
        return obj
    if isinstance(obj, _ArrayStub):
        if len(state) == 5:
            state = state[1:]
        shape, dtype, fortran, raw = state
        if not isinstance(dtype, _DtypeStub) or dtype.dtype is None:
            raise UnsafePickleError(f"{where}: array without a plain dtype")
        if not isinstance(raw, (bytes, bytearray)):
            raise UnsafePickleError(f"{where}: array data must be raw bytes (object arrays refused)")
        count = int(np.prod(shape, dtype=np.int64))
        if len(raw) != count * dtype.dtype.itemsize:
            raise DataFormatError(f"{where}: array data has {len(raw)} bytes, expected "
                                  f"{count * dtype.dtype.itemsize} for shape {tuple(shape)}")
        arr = np.frombuffer(bytes(raw), dtype=dtype.dtype).reshape(shape, order="F" if fortran else "C")
        obj.array = arr.astype(dtype.dtype.newbyteorder("="))
        return obj
    raise UnsafePickleError(f"{where}: BUILD on {type(obj).__name__} is not allowed")


def _finish(x):
    """Replace array stubs by their arrays, recursively."""
    if isinstance(x, _ArrayStub):
        return x.array
    if isinstance(x, dict):
        return {_finish(k): _finish(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finish(v) for v in x]
    if isinstance(x, tuple):
        return tuple(_finish(v) for v in x)
    if isinstance(x, (_Global, _DtypeStub)):
        raise UnsafePickleError("pickle result contains a bare global/dtype")
    return x


def safe_loads(data, source="<bytes>"):
    """Decode pickle bytes made only of data (dict/list/tuple/str/bytes/int/float/None/
    bool and NumPy arrays). Raises UnsafePickleError for anything else."""
    data = bytes(data)
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
        if (module, name) not in _ALLOWED:
            raise UnsafePickleError(f"{source}: refusing to load global '{module}.{name}' "
                                    f"(byte {at}): only plain data and NumPy arrays are accepted")
        return _Global(module, name)

    while True:
        at = pos
        op = take(1)
        where = f"{source} (byte {at})"
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
            stack[-1][k] = v
        elif op == b"u":
            items = pop_mark()
            d = stack[-1]
            for i in range(0, len(items), 2):
                d[items[i]] = items[i + 1]
        elif op == b"q":
            memo[take(1)[0]] = stack[-1]
        elif op == b"r":
            memo[struct.unpack("<I", take(4))[0]] = stack[-1]
        elif op == b"\x94":
            memo[len(memo)] = stack[-1]
        elif op == b"h":
            stack.append(memo[take(1)[0]])
        elif op == b"j":
            stack.append(memo[struct.unpack("<I", take(4))[0]])
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
            raise UnsafePickleError(f"{where}: pickle opcode {op!r} is not in the accepted data-only subset")
    if len(stack) != 1:
        raise DataFormatError(f"{source}: malformed pickle (stack has {len(stack)} items at STOP)")
    return _finish(stack[0])


def safe_load(path):
    """``safe_loads`` on a file's bytes; errors name the file."""
    with open(path, "rb") as f:
        return safe_loads(f.read(), source=str(path))
