"""``axpy(alpha, x, y)``: ``y += alpha * x`` and ``axpby(alpha, x, beta, y)``:
``y = alpha * x + beta * y``, each in one pass over memory.

NumPy has no fused multiply-add, so ``y += alpha * x`` costs two passes (scale into a temporary,
then add) and ``y = a x + b y`` three. The BLAS routines ``?axpy``/``?axpby`` do it in one;
NumPy's wheels ship OpenBLAS, so we call its ``cblas_?axpy``/``cblas_?axpby`` through ctypes
when it can be found, pinned to one thread
for the call (``openblas_set_num_threads_local``): on a busy machine a multi-threaded level-1
call can stall for whole scheduler ticks waiting for its second thread.

Falls back to NumPy (two passes through ``tmp``) for small, non-contiguous or mixed-dtype
arrays, or when the library is not found; set ``EMBER_OPTIM_BLAS=0`` to always use NumPy.
"""
import ctypes
import glob
import os

import numpy as np

MIN_SIZE = 16384  # below this the ctypes call overhead (~3 us) outweighs the saved pass

_axpy = {}
_axpby = {}
_local_threads = None


def _load():
    global _local_threads
    if os.environ.get("EMBER_OPTIM_BLAS", "1") == "0":
        return
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
            fns = {np.dtype(np.float32): lib.scipy_cblas_saxpy64_,
                   np.dtype(np.float64): lib.scipy_cblas_daxpy64_}
            fns2 = {np.dtype(np.float32): lib.scipy_cblas_saxpby64_,
                    np.dtype(np.float64): lib.scipy_cblas_daxpby64_}
            local = lib.openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        for dt in fns:
            ctype = ctypes.c_float if dt == np.float32 else ctypes.c_double
            fns[dt].restype = fns2[dt].restype = None
            fns[dt].argtypes = [ctypes.c_int64, ctype, ctypes.c_void_p, ctypes.c_int64,
                                ctypes.c_void_p, ctypes.c_int64]
            fns2[dt].argtypes = [ctypes.c_int64, ctype, ctypes.c_void_p, ctypes.c_int64,
                                 ctype, ctypes.c_void_p, ctypes.c_int64]
        local.restype = ctypes.c_int
        local.argtypes = [ctypes.c_int]
        # self-check before trusting it
        x = np.arange(MIN_SIZE, dtype=np.float32)
        y = np.ones(MIN_SIZE, np.float32)
        prev = local(1)
        fns[np.dtype(np.float32)](MIN_SIZE, 0.5, x.ctypes.data, 1, y.ctypes.data, 1)
        z = np.full(MIN_SIZE, 2.0)
        x64 = x.astype(np.float64)  # keep a reference: the call reads its memory
        fns2[np.dtype(np.float64)](MIN_SIZE, 0.25, x64.ctypes.data, 1, 3.0, z.ctypes.data, 1)
        local(prev)
        if np.array_equal(y, 1 + 0.5 * x) and np.array_equal(z, 6 + 0.25 * x):
            _axpy.update(fns)
            _axpby.update(fns2)
            _local_threads = local
        return


try:
    _load()
except Exception:  # never let an acceleration break the import
    _axpy.clear()
    _axpby.clear()


def available():
    return bool(_axpy)


def axpy(alpha, x, y, tmp):
    """``y += alpha * x`` in place. ``tmp`` (shaped like ``y``, may be ``x`` itself when ``x``
    is a scratch buffer) is used by the NumPy fallback."""
    fn = _axpy.get(y.dtype) if y.size >= MIN_SIZE and type(y) is np.ndarray else None
    if (fn is not None and x.dtype == y.dtype and x.shape == y.shape
            and x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable):
        prev = _local_threads(1)
        fn(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
        _local_threads(prev)
        return
    np.multiply(x, alpha, out=tmp)
    np.add(y, tmp, out=y)


def axpby(alpha, x, beta, y, tmp):
    """``y = alpha * x + beta * y`` in place (``tmp`` as for :func:`axpy`)."""
    fn = _axpby.get(y.dtype) if y.size >= MIN_SIZE and type(y) is np.ndarray else None
    if (fn is not None and x.dtype == y.dtype and x.shape == y.shape
            and x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable):
        prev = _local_threads(1)
        fn(y.size, alpha, x.ctypes.data, 1, beta, y.ctypes.data, 1)
        _local_threads(prev)
        return
    np.multiply(y, beta, out=y)
    if alpha == 1:
        np.add(y, x, out=y)
    else:
        np.multiply(x, alpha, out=tmp)
        np.add(y, tmp, out=y)
