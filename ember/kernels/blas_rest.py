"""Put OpenBLAS's idle worker threads to rest, so another thread pool can have the cores.

After each multi-threaded call, OpenBLAS's workers spin-wait for about 2^28 cycles (0.1 s on
a 2.4 GHz core; ``OPENBLAS_THREAD_TIMEOUT``, read only when NumPy loads OpenBLAS) before they
sleep. Work that follows a GEMM on another thread pool (oneDNN's OpenMP team, or ember's own
threads) then shares the cores with them. On a quiet 2-core machine the seed CNN step with
oneDNN convolutions took about 135 ms with them spinning and 95-110 ms resting them first.

:func:`rest_openblas_workers` calls OpenBLAS's exported ``blas_thread_shutdown_`` (the routine
it runs itself around fork()): the workers exit, and the next multi-threaded BLAS call starts
them again (tens of µs) with the same thread count, so no setting changes. It runs only when
no Python thread is alive beyond this one and those the caller owns and knows make no BLAS
calls, so no BLAS call can be in flight. Without OpenBLAS (or off Linux) it does nothing.
"""
import _thread
import ctypes
import os

_shutdown = None  # OpenBLAS's blas_thread_shutdown_, once looked up (False: none)


def _find_shutdown():
    """``blas_thread_shutdown_`` of the OpenBLAS loaded in this process, or False."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return False
    for path in sorted(p for p in paths
                       if "openblas" in os.path.basename(p).lower() and ".so" in p):
        try:
            fn = ctypes.CDLL(path).blas_thread_shutdown_
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_int
        return fn
    return False


def rest_openblas_workers(own_threads: int = 0) -> bool:
    """Stop OpenBLAS's spinning workers if it is safe; True when it was done.

    ``own_threads``: how many alive Python threads (besides this one) belong to the caller
    and never call BLAS; any other thread makes this a no-op.
    """
    global _shutdown
    if _shutdown is None:
        _shutdown = _find_shutdown()
    if _shutdown and _thread._count() <= own_threads:
        _shutdown()
        return True
    return False
