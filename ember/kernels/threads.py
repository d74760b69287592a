"""A small thread pool for memory-bound passes (im2col/col2im copies, pooling, elementwise).

NumPy's copies and ufunc loops, and the numba kernels (compiled ``nogil``), release the GIL, so
splitting one large pass along the batch axis over two threads keeps both cores busy. The pool
runs only between BLAS calls (never around a GEMM), so its threads and OpenBLAS's do not compete
for the cores. ``EMBER_KERNEL_THREADS`` sets the width. The default is 1 (off): on the 2-core
machine, with OpenBLAS on 2 threads, the seed CNN step was faster without the split in 5 of 6
interleaved A/B runs (e.g. 112 vs 138 ms): OpenBLAS's threads spin between the GEMMs, so
the pool's second thread mostly waits for a core. ``EMBER_KERNEL_THREADS=2`` turns it on.
"""
import _thread  # not threading: `import ember` must not load threading.py (tests/core/test_import_cost.py)
import os

_lock = _thread.allocate_lock()
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
    global _pool, _gemm_pool, _lock, _pinned
    _pool, _gemm_pool, _lock, _pinned = None, None, _thread.allocate_lock(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def split(fn, n: int, size: int, *args) -> None:
    """Run ``fn(lo, hi, *args)`` over [0, n) in contiguous chunks: one chunk on the calling
    thread and the others on the pool when the pass touches at least ``MIN_SPLIT`` elements
    (``size``); a single call ``fn(0, n, *args)`` otherwise. Exceptions propagate."""
    k = width()
    if k > 1:
        import threading  # loaded by the first split pass, not by import ember
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


# ---------------------------------------------------------------- batch-parallel GEMM passes
# A convolution instead splits its batch over threads that each run their share of the im2col
# copies *and* GEMMs, with the BLAS pinned to one thread meanwhile: the copies, col2im and bias
# passes then use every core too, and no BLAS worker spins on a core next to them.

_blas = None  # the threadpoolctl controller of the BLAS, False when there is none to pin
_pinned = 0  # batch-parallel passes running now (in any thread)
_restore = 1  # the BLAS thread count to restore when the last of them ends


def _blas_controller():
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
            libs = ThreadpoolController().select(user_api="blas").lib_controllers
            if len(libs) > 1:  # e.g. another package's BLAS loaded too: NumPy's is the one
                libs = [lib for lib in libs if "numpy" in str(lib.filepath)]
            _blas = libs[0] if len(libs) == 1 else False
        except Exception:  # threadpoolctl missing or unable to see the BLAS
            _blas = False
    return _blas


def blas_threads() -> int:
    """Threads the BLAS is set to use (its own setting while a pass has it pinned), 0 when
    unknown (no threadpoolctl)."""
    blas = _blas_controller()
    if not blas:
        return 0
    return _restore if _pinned else blas.num_threads


def gemm_width() -> int:
    """Threads a batch-parallel pass uses: ``EMBER_CONV_THREADS`` if set, else 1 (off). Off by
    default because on a quiet 2-core machine the split lost to OpenBLAS's own two threads
    (seed CNN, bench/bench_cnn_speed.py, one interleaved run each: training 0.79x PyTorch with
    the split vs 0.84x without, predict 0.69x vs 0.85x); it won only under heavy load from
    other processes. ``EMBER_CONV_THREADS=0`` gives the BLAS's own thread count. Needs threadpoolctl to pin
    the BLAS meanwhile: 1 without it, and 1 outside the main thread, where OpenBLAS (0.3.31)
    takes a lower thread count but ignores raising it again, so the pin could not be undone."""
    env = os.environ.get("EMBER_CONV_THREADS")
    if env:
        try:
            k = int(env)
        except ValueError:
            k = -1
        if k < 0:
            raise ValueError(f"EMBER_CONV_THREADS must be an integer >= 0 (0: the BLAS's thread "
                             f"count), got {env!r}") from None
        if k == 0:
            k = blas_threads()
    else:
        return 1
    if k > 1:
        import threading  # loaded by the first convolution, not by import ember
    if k > 1 and (not _blas_controller() or
                  threading.current_thread() is not threading.main_thread()):
        return 1
    return max(1, k)


def _pin(on):
    # reference-counted, so a nested pass restores the user's setting only when the outermost
    # one ends (never the pinned count)
    global _pinned, _restore
    with _lock:
        if on:
            if not _pinned:
                _restore = _blas.num_threads
                _blas.set_num_threads(1)
            _pinned += 1
        else:
            _pinned -= 1
            if not _pinned:
                _blas.set_num_threads(_restore)


_gemm_pool = None


def run_parts(fn, k: int, width: int) -> None:
    """Run ``fn(i)`` for i in range(k): serially when ``width`` <= 1, else the indices are
    dealt out in contiguous runs over ``width`` threads (the caller's among them) while the BLAS
    runs single-threaded; its thread count is restored afterwards. Exceptions propagate."""
    if width <= 1 or k < 2 or not _blas_controller():
        for i in range(k):
            fn(i)
        return
    global _gemm_pool
    width = min(width, k)
    if _gemm_pool is None or _gemm_pool._max_workers < width - 1:
        with _lock:
            from concurrent.futures import ThreadPoolExecutor
            _gemm_pool = ThreadPoolExecutor(max_workers=width - 1,
                                            thread_name_prefix="ember-kernel-gemm")

    def span(lo, hi):
        for i in range(lo, hi):
            fn(i)
    bounds = [k * i // width for i in range(width + 1)]
    _pin(True)
    try:
        futures = [_gemm_pool.submit(span, bounds[i], bounds[i + 1]) for i in range(1, width)]
        try:
            span(bounds[0], bounds[1])
        finally:
            for f in futures:
                f.result()
    finally:
        _pin(False)
