"""A small ctypes binding to oneDNN's C API (the optional extra ``onednn``:
``pip install 'ember[onednn]'``, which brings Intel's ``onednn-cpu-gomp`` wheel).

oneDNN is the CPU deep-learning primitive library that PyTorch, TensorFlow and ONNX Runtime
run their convolutions on. ember uses it for float32 convolutions of host NumPy arrays
(``ember.kernels.onednn_conv``); everything else, and every other dtype, stays on ember's own
kernels. Nothing here is imported by ``import ember``: the library is opened on the first
convolution that could use it, and ``EMBER_ONEDNN=0`` turns it off. Before opening it, ember
sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is set already (see :func:`_passive_openmp`).

Only oneDNN 3.x is accepted (the enum values below are those of its ABI, checked against
``dnnl_version()`` on load). The library is looked for in ``EMBER_ONEDNN_LIBRARY`` (a file),
then next to the running Python (``<sys.prefix>/lib``, where the wheel installs it), then on
the system's library path.
"""
import ctypes
import ctypes.util
import os
import sys

# --- oneDNN 3.x enum values (dnnl_types.h / dnnl_common_types.h) ---------------------------
F32 = 3                                  # dnnl_f32
TAG_ANY = 1                              # dnnl_format_tag_any: the primitive picks a layout
CPU = 1                                  # dnnl_cpu engine kind
FORWARD_TRAINING = 64
CONVOLUTION_DIRECT = 1
ARG_SRC, ARG_DST, ARG_WEIGHTS, ARG_BIAS = 1, 17, 33, 41
ARG_DIFF_SRC, ARG_DIFF_DST, ARG_DIFF_WEIGHTS, ARG_DIFF_BIAS = 129, 145, 161, 169
ARG_FROM, ARG_TO = 1, 17                 # reorder's source and destination
Q_IMPL_INFO_STR = 8                      # dnnl_query_impl_info_str
Q_WEIGHTS_MD, Q_DIFF_WEIGHTS_MD = 131, 132
STREAM_DEFAULT = 1
MAX_NDIMS = 12
_STATUS = {1: "out of memory", 2: "invalid arguments", 3: "unimplemented",
           4: "last implementation reached", 5: "runtime error", 6: "not required"}

Dims = ctypes.c_int64 * MAX_NDIMS
_vp = ctypes.c_void_p


class ExecArg(ctypes.Structure):
    """dnnl_exec_arg_t: an (argument index, memory object) pair for dnnl_primitive_execute."""
    _fields_ = [("arg", ctypes.c_int), ("memory", _vp)]


class OneDNNError(RuntimeError):
    """A oneDNN call failed (its status is in the message)."""


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint),
                ("gpu_runtime", ctypes.c_uint)]


_lib = None      # the loaded library, once found
_state = None    # (engine, stream) once created
_why_not = None  # why the library is unusable, once known


def _candidates():
    env = os.environ.get("EMBER_ONEDNN_LIBRARY", "").strip()
    if env:
        return [env]
    names = ["libdnnl.so.3", "libdnnl.3.dylib", "dnnl.dll"]
    out = [os.path.join(sys.prefix, "lib", n) for n in names]
    found = ctypes.util.find_library("dnnl")
    if found:
        out.append(found)
    return out + names


def _passive_openmp():
    """Ask the OpenMP runtime oneDNN brings (libgomp) to sleep, not spin, between parallel
    regions, unless the user chose (``OMP_WAIT_POLICY``) or libgomp is already running.

    Why: ember alternates oneDNN's OpenMP team with OpenBLAS's own threads on the same cores.
    libgomp's default spin-wait keeps its threads busy after each convolution, and the GEMM
    that follows then shares the cores with them (on a quiet 2-core machine the seed CNN step
    went from about 115 ms to about 170 ms with the default policy).
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return
    try:
        with open("/proc/self/maps") as f:
            if "/libgomp.so" in f.read():  # (PyTorch's own copy is libgomp-<hash>.so)
                return  # too late: it read its settings when it was loaded
    except OSError:
        pass
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def _open():
    global _lib, _why_not
    errors = []
    _passive_openmp()
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            continue
        try:
            lib = ctypes.CDLL(path)  # CDLL: calls release the GIL
        except OSError as e:
            errors.append(f"{path}: {e}")
            continue
        lib.dnnl_version.restype = ctypes.POINTER(_Version)
        v = lib.dnnl_version().contents
        if v.major != 3:
            errors.append(f"{path}: oneDNN {v.major}.{v.minor} (ember needs 3.x)")
            continue
        _declare(lib)
        _lib = lib
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forked)
        return lib
    _why_not = ("oneDNN was not found (pip install 'ember[onednn]', or set "
                "EMBER_ONEDNN_LIBRARY to libdnnl.so.3)" + (": " + "; ".join(errors) if errors
                                                           else ""))
    return None


def _forked():
    """In a forked child, leave oneDNN alone: libgomp's thread team does not survive fork(),
    and the child's next parallel region could hang. The child's convolutions use ember's
    own kernels."""
    global _lib, _state, _why_not
    _lib, _state = None, None
    _why_not = "oneDNN is not used in a process forked after it was loaded (libgomp is not " \
               "fork-safe)"


def _declare(lib):
    lib.dnnl_primitive_desc_query_md.restype = _vp
    lib.dnnl_primitive_desc_query_md.argtypes = [_vp, ctypes.c_int, ctypes.c_int]
    lib.dnnl_memory_desc_get_size.restype = ctypes.c_size_t
    lib.dnnl_memory_desc_get_size.argtypes = [_vp]
    lib.dnnl_memory_desc_equal.argtypes = [_vp, _vp]
    lib.dnnl_memory_set_data_handle.argtypes = [_vp, _vp]
    lib.dnnl_primitive_execute.argtypes = [_vp, _vp, ctypes.c_int, ctypes.POINTER(ExecArg)]
    for name in ("dnnl_memory_desc_destroy", "dnnl_memory_destroy", "dnnl_primitive_destroy",
                 "dnnl_primitive_desc_destroy", "dnnl_stream_wait"):
        getattr(lib, name).argtypes = [_vp]


def enabled() -> bool:
    """Whether ember may use oneDNN here (not turned off by ``EMBER_ONEDNN=0``)."""
    return os.environ.get("EMBER_ONEDNN", "1").strip().lower() not in ("0", "false", "off", "no")


def lib():
    """The loaded library, or None when it cannot be used (see :func:`why_unavailable`)."""
    if _lib is not None:
        return _lib
    if _why_not is not None:
        return None
    return _open()


def available() -> bool:
    """True when oneDNN 3.x can be loaded (whether or not ``EMBER_ONEDNN`` turns it off)."""
    return lib() is not None


def why_unavailable() -> str:
    """Why :func:`available` is False ('' when it is True)."""
    return "" if available() else _why_not


def check(status: int, what: str) -> None:
    """Raise :class:`OneDNNError` naming ``what`` when a oneDNN call returned an error."""
    if status != 0:
        raise OneDNNError(f"oneDNN {what} failed: {_STATUS.get(status, f'status {status}')}")


def engine_and_stream():
    """The process's CPU engine and its in-order stream (created once)."""
    global _state
    if _state is None:
        L = lib()
        eng, stream = _vp(), _vp()
        check(L.dnnl_engine_create(ctypes.byref(eng), CPU, 0), "engine creation")
        check(L.dnnl_stream_create(ctypes.byref(stream), eng, STREAM_DEFAULT),
              "stream creation")
        _state = (eng, stream)
    return _state


def dims(values) -> "Dims":
    return Dims(*values)


def memory_desc(shape, strides) -> _vp:
    """A float32 memory descriptor of logical ``shape`` laid out with ``strides`` (elements)."""
    md = _vp()
    check(lib().dnnl_memory_desc_create_with_strides(
        ctypes.byref(md), len(shape), Dims(*shape), F32, Dims(*strides)),
        f"memory descriptor {tuple(shape)} strides {tuple(strides)}")
    return md


def memory_desc_any(shape) -> _vp:
    """A float32 descriptor whose layout the primitive chooses (format_tag any)."""
    md = _vp()
    check(lib().dnnl_memory_desc_create_with_tag(ctypes.byref(md), len(shape), Dims(*shape),
                                                 F32, TAG_ANY), "memory descriptor (any)")
    return md


def query_md(pd, what) -> _vp:
    """A descriptor the primitive descriptor chose (owned by ``pd``: do not destroy)."""
    return _vp(lib().dnnl_primitive_desc_query_md(pd, what, 0))


def md_size(md) -> int:
    """Bytes a memory of descriptor ``md`` needs."""
    return lib().dnnl_memory_desc_get_size(md)


def md_equal(a, b) -> bool:
    return bool(lib().dnnl_memory_desc_equal(a, b))


def impl_name(pd) -> str:
    """The implementation oneDNN picked for a primitive descriptor, e.g. 'brgconv:avx2'."""
    s = ctypes.c_char_p()
    check(lib().dnnl_primitive_desc_query(pd, Q_IMPL_INFO_STR, 0, ctypes.byref(s)),
          "implementation query")
    return s.value.decode()


def primitive(pd) -> _vp:
    p = _vp()
    check(lib().dnnl_primitive_create(ctypes.byref(p), pd), "primitive creation")
    return p


def reorder_desc(src_md, dst_md) -> _vp:
    eng, _ = engine_and_stream()
    pd = _vp()
    check(lib().dnnl_reorder_primitive_desc_create(ctypes.byref(pd), src_md, eng, dst_md, eng,
                                                   None), "reorder")
    return pd


def memory(md) -> _vp:
    """A memory object of descriptor ``md`` with no buffer yet (set one with :func:`bind`)."""
    eng, _ = engine_and_stream()
    m = _vp()
    check(lib().dnnl_memory_create(ctypes.byref(m), md, eng, None), "memory creation")
    return m


def bind(mem, address: int) -> None:
    """Point memory object ``mem`` at the buffer starting at ``address``."""
    check(lib().dnnl_memory_set_data_handle(mem, address), "memory binding")


def execute(prim, args, what: str) -> None:
    """Run ``prim`` on ``args`` (an ExecArg array) and wait for it to finish."""
    L = lib()
    _, stream = engine_and_stream()
    check(L.dnnl_primitive_execute(prim, stream, len(args), args), what)
    check(L.dnnl_stream_wait(stream), what)


def destroy_pd(pd) -> None:
    if pd and _lib is not None:
        _lib.dnnl_primitive_desc_destroy(pd)


def destroy_md(md) -> None:
    if md and _lib is not None:
        _lib.dnnl_memory_desc_destroy(md)
