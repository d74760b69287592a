"""Log lines in glog's layout, as Caffe prints them (``I1203 07:08:06.123456  4242 solver.py]
Iteration 100, loss = 0.3``), so tools written for Caffe logs (parse_log.py, grep) read them."""
import os
import sys
import time


class CaffeLog:
    def __init__(self, stream=None, quiet: bool = False):
        self.stream = sys.stdout if stream is None else stream
        self.quiet = quiet
        self.lines = []

    def _emit(self, level: str, source: str, msg: str) -> None:
        now = time.time()
        t = time.localtime(now)
        stamp = time.strftime("%m%d %H:%M:%S", t) + f".{int(now % 1 * 1e6):06d}"
        line = f"{level}{stamp} {os.getpid():5d} {source}] {msg}"
        self.lines.append(msg)
        if not self.quiet:
            print(line, file=self.stream, flush=True)

    def info(self, msg: str, source: str = "solver.py") -> None:
        self._emit("I", source, msg)

    def warning(self, msg: str, source: str = "solver.py") -> None:
        self._emit("W", source, msg)
