"""Keras-style progress output for ``fit``.

On a terminal: a bar redrawn in place with step count, ETA, running loss and metrics.
Anywhere else (CI logs, files): one line per epoch, so logs are never flooded.
"""
import sys
import time


def _fmt_time(s):
    if s >= 3600:
        return f"{int(s // 3600)}:{int(s % 3600 // 60):02d}:{int(s % 60):02d}"
    if s >= 60:
        return f"{int(s // 60)}:{int(s % 60):02d}"
    return f"{s:.0f}s"


def _fmt_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}"
                      for k, v in logs.items())


class ProgressBar:
    """``verbose=1``: bar (or one line per epoch when not a terminal); ``verbose=2``: one line per
    epoch always; ``verbose=0``: silent."""

    width = 30

    def __init__(self, verbose=1, stream=None, min_interval=0.1):
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.interactive = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self.min_interval = min_interval

    def epoch_begin(self, epoch, epochs, steps):
        self.steps = steps
        self.start = self._last = time.perf_counter()
        if self.verbose:
            self.stream.write(f"Epoch {epoch + 1}/{epochs}\n")
            self.stream.flush()

    def batch_end(self, step, logs):
        if not self.interactive:
            return
        now = time.perf_counter()
        if now - self._last < self.min_interval and step < self.steps:
            return
        self._last = now
        elapsed = now - self.start
        if self.steps:
            done = int(self.width * step / self.steps)
            bar = "=" * max(done - 1, 0) + (">" if step < self.steps else "=") if done else ""
            bar = bar.ljust(self.width, ".")
            eta = elapsed / step * (self.steps - step) if step else 0
            head = f"\r{step:>{len(str(self.steps))}}/{self.steps} [{bar}] - ETA: {_fmt_time(eta)}"
        else:
            head = f"\r{step} steps - {_fmt_time(elapsed)}"
        self.stream.write(head + (" - " + _fmt_logs(logs) if logs else "") + "\x1b[K")
        self.stream.flush()

    def epoch_end(self, logs, done=None):
        """End the epoch's line; ``done`` is the number of steps run (fewer than ``steps`` when
        training stopped early, e.g. by the doctor: the bar then shows where it stopped)."""
        if not self.verbose:
            return
        done = self.steps if done is None else done
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(done or 1, 1)
        unit = f"{per_step * 1e3:.0f}ms/step" if per_step >= 1e-3 else f"{per_step * 1e6:.0f}us/step"
        bar = ""
        if self.steps:
            marks = ("=" * int(self.width * done / self.steps)).ljust(self.width, ".")
            bar = f"{done}/{self.steps} [{marks}] - "
        line = f"{bar}{_fmt_time(elapsed)} {unit} - {_fmt_logs(logs)}"
        if done < (self.steps or 0):
            line += f" - stopped at step {done}"
        self.stream.write(("\r" + line + "\x1b[K\n") if self.interactive else line + "\n")
        self.stream.flush()
