"""A small thread pool for memory-bound passes (im2col/col2im copies, pooling, elementwise).

NumPy's copies and ufunc loops, and the numba kernels (compiled ``nogil``), release the GIL, so
splitting one large pass along the batch axis over two threads keeps both cores busy. The pool
runs only between BLAS calls (never around a GEMM), so its threads and OpenBLAS's do not compete
for the cores. ``EMBER_KERNEL_THREADS`` sets the width. The default is 1 (off): on the 2-core
machine, with OpenBLAS on 2 threads, the seed CNN step was faster without the split in 5 of 6
interleaved A/B runs (e.g. 112 vs 138 ms): OpenBLAS's threads spin between the GEMMs, so
the pool's second thread mostly waits for a core. ``EMBER_KERNEL_THREADS=2`` turns it on.
"""
import os
import threading

_lock = threading.Lock()
_pool = None
#: below this many elements a pass runs on the calling thread (the hand-off costs ~20-50 us)
MIN_SPLIT = 1 << 18


def width() -> int:
    """Threads a pass is split over."""
    env = os.environ.get("EMBER_KERNEL_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"EMBER_KERNEL_THREADS must be an integer, got {env!r}") from None
    return 1


def _executor():
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                from concurrent.futures import ThreadPoolExecutor
                _pool = ThreadPoolExecutor(max_workers=width() - 1,
                                           thread_name_prefix="ember-kernel")
    return _pool


def _forget_pool():
    # a forked child has the executor object but none of its threads: a submit would wait
    # forever (DataLoader workers, multiprocessing), so the child starts a pool of its own
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def split(fn, n: int, size: int, *args) -> None:
    """Run ``fn(lo, hi, *args)`` over [0, n) in contiguous chunks: one chunk on the calling
    thread and the others on the pool when the pass touches at least ``MIN_SPLIT`` elements
    (``size``); a single call ``fn(0, n, *args)`` otherwise. Exceptions propagate."""
    k = width()
    if k <= 1 or n < 2 or size < MIN_SPLIT or threading.current_thread().name.startswith(
            "ember-kernel"):
        fn(0, n, *args)
        return
    k = min(k, n)
    bounds = [n * i // k for i in range(k + 1)]
    pool = _executor()
    futures = [pool.submit(fn, bounds[i], bounds[i + 1], *args) for i in range(1, k)]
    try:
        fn(bounds[0], bounds[1], *args)
    finally:
        for f in futures:
            f.result()
