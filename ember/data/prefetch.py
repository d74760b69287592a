"""Background batch preparation for DataLoader(num_workers > 0).

Batch i is built by worker ``i % num_workers``; each worker owns a bounded queue and
works through its batches in order, so the main thread restores the global order by
reading the queues round robin. Each worker draws randomness from its own forked
generator (installed thread-locally), which makes augmentation repeatable.
"""
import queue
import threading

from ._rng import use_generator

_POLL = 0.05  # seconds between checks of the stop flag while blocked


def _worker_loop(fetch, batches, generator, out, stop):
    # Module-level (not a method) so threads hold no reference to the iterator, letting
    # the iterator be garbage collected -- and shut the threads down -- on early break.
    with use_generator(generator):
        for indices in batches:
            if stop.is_set():
                return
            try:
                item = (True, fetch(indices))
            except BaseException as exc:  # re-raised in the main thread
                item = (False, exc)
            while not stop.is_set():
                try:
                    out.put(item, timeout=_POLL)
                    break
                except queue.Full:
                    continue
            if not item[0]:
                return


class PrefetchIterator:
    """Iterates batches prepared ahead of time by ``len(generators)`` threads."""

    def __init__(self, fetch, batches, generators, finish, prefetch_factor=2):
        self._n = len(batches)
        self._i = 0
        self._finish = finish
        self._stop = threading.Event()
        workers = len(generators)
        self._queues = [queue.Queue(maxsize=max(1, prefetch_factor)) for _ in range(workers)]
        self._threads = []
        for w in range(workers):
            t = threading.Thread(target=_worker_loop, name=f"ember-data-worker-{w}", daemon=True,
                                 args=(fetch, batches[w::workers], generators[w],
                                       self._queues[w], self._stop))
            t.start()
            self._threads.append(t)

    def __iter__(self):
        return self

    def __next__(self):
        if self._i >= self._n or self._stop.is_set():
            self.close()
            raise StopIteration
        w = self._i % len(self._threads)
        q, thread = self._queues[w], self._threads[w]
        while True:
            try:
                ok, value = q.get(timeout=_POLL)
                break
            except queue.Empty:
                if not thread.is_alive() and q.empty():
                    self.close()
                    raise RuntimeError(f"DataLoader worker {w} exited unexpectedly")
        self._i += 1
        if not ok:
            self.close()
            raise value
        return self._finish(value)

    def close(self):
        """Stop the workers and wait for them; safe to call more than once."""
        if self._stop.is_set() and not any(t.is_alive() for t in self._threads):
            return
        self._stop.set()
        for q in self._queues:  # unblock producers waiting on a full queue
            try:
                while True:
                    q.get_nowait()
            except queue.Empty:
                pass
        for t in self._threads:
            t.join()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
