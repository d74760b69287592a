"""TensorBoard event files without TensorFlow or the tensorboard package.

An event file (``events.out.tfevents.<time>.<host>.<pid>.<n>``) is a
sequence of TFRecords, each::

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

(all little-endian), where ``data`` is a serialized ``tensorboard.Event``
protobuf.  The first event carries ``file_version = "brain.Event:2"``; the
rest carry a ``Summary`` with one or more ``Summary.Value``\\ s (a scalar
``simple_value``, a ``HistogramProto``, a PNG ``Image``, or a string tensor
tagged for the text / hparams plugins).  The protobufs are hand-encoded by
``ember.io._protobuf``; field numbers follow TensorBoard's ``event.proto``,
``summary.proto`` and ``hparams/plugin_data.proto``.
"""

import itertools
import os
import socket
import struct
import threading
import time

import numpy as np

from ember.io import _protobuf as pb
from ember.io._crc32c import masked_crc32c
from ember.io._png import encode_png

__all__ = ["SummaryWriter"]

_file_counter = itertools.count()

# Enum values and tags from TensorBoard's protos / hparams plugin.
_DT_STRING = 7
_HP_STRING, _HP_BOOL, _HP_FLOAT64 = 1, 2, 3
_STATUS_SUCCESS = 1
_EXPERIMENT_TAG = "_hparams_/experiment"
_SESSION_START_TAG = "_hparams_/session_start_info"
_SESSION_END_TAG = "_hparams_/session_end_info"


def _numpy(x):
    """Unwrap ember Tensors (``.data``) and anything array-like into an ndarray."""
    data = getattr(x, "data", None)
    if not isinstance(x, np.ndarray) and isinstance(data, np.ndarray):
        x = data
    elif hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor, if handed one
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _scalar(x, what):
    arr = _numpy(x)
    if arr.size != 1:
        raise ValueError(f"{what} must be a single number, got shape {arr.shape}")
    return float(arr.reshape(-1)[0])


def _plugin_metadata(plugin_name, content=b""):
    return pb.message(9, pb.message(1, pb.string(1, plugin_name), pb.blob(2, content)))


def histogram_proto(values, bins=64):
    """Serialized ``HistogramProto`` of ``values`` (non-finite values left out)."""
    v = _numpy(values).astype(np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size:
        counts, edges = np.histogram(v, bins=bins)
        stats = (v.min(), v.max(), v.size, v.sum(), float(v @ v))
    else:
        counts, edges = np.zeros(0), np.zeros(1)
        stats = (0.0, 0.0, 0, 0.0, 0.0)
    # TensorBoard stores only right edges; an empty first bucket ending at
    # the left edge keeps the leftmost limit.
    histo = b"".join(pb.double(i + 1, s) for i, s in enumerate(stats))
    return histo + pb.packed_doubles(6, edges) + pb.packed_doubles(7, np.concatenate([[0], counts]))


class SummaryWriter:
    """Write scalars, histograms, images, text and hparams for TensorBoard.

    ``SummaryWriter(log_dir)`` creates ``log_dir`` and one new event file in it.
    Data is buffered and flushed every ``flush_secs`` seconds, on ``flush()``
    and on ``close()``; use it as a context manager to close it for sure.
    """

    def __init__(self, log_dir=None, flush_secs=10, filename_suffix=""):
        if log_dir is None:  # PyTorch's default: runs/<date>_<host>
            log_dir = os.path.join("runs", time.strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname())
        self.log_dir = os.fspath(log_dir)
        os.makedirs(self.log_dir, exist_ok=True)
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_file_counter)}{filename_suffix}")
        self.path = os.path.join(self.log_dir, name)
        self.flush_secs = flush_secs
        self._lock = threading.Lock()
        self._children = {}
        self._file = open(self.path, "xb")
        self._last_flush = time.monotonic()
        self._write_event(pb.string(3, "brain.Event:2"))

    # ------------------------------------------------------------ plumbing

    def _write_event(self, *fields, step=None, walltime=None):
        event = pb.double(1, time.time() if walltime is None else walltime)
        if step is not None:
            event += pb.uint(2, int(step))
        event += b"".join(fields)
        length = struct.pack("<Q", len(event))
        record = (length + struct.pack("<I", masked_crc32c(length))
                  + event + struct.pack("<I", masked_crc32c(event)))
        with self._lock:
            if self._file is None:
                raise ValueError(f"SummaryWriter for {self.log_dir!r} is closed")
            self._file.write(record)
            if time.monotonic() - self._last_flush >= self.flush_secs:
                self._flush_locked()

    def _summary(self, step, walltime, *fields):
        """Write one Event whose Summary holds one Summary.Value made of ``fields``."""
        self._write_event(pb.message(5, pb.message(1, *fields)), step=step, walltime=walltime)

    def _flush_locked(self):
        self._file.flush()
        self._last_flush = time.monotonic()

    def _child(self, subdir):
        if subdir not in self._children:
            self._children[subdir] = SummaryWriter(os.path.join(self.log_dir, subdir),
                                                   flush_secs=self.flush_secs)
        return self._children[subdir]

    # ---------------------------------------------------------------- API

    def add_scalar(self, tag, value, step=0, walltime=None, global_step=None):
        """Log one number (a float, 0-d array or one-element Tensor)."""
        step = step if global_step is None else global_step  # PyTorch spelling
        self._summary(step, walltime, pb.string(1, tag), pb.float32(2, _scalar(value, tag)))

    def add_scalars(self, main_tag, tag_value_dict, step=0, walltime=None, global_step=None):
        """Log several curves on one chart: like PyTorch, each goes to the run
        ``<log_dir>/<main_tag>_<tag>`` under the shared tag ``main_tag``."""
        step = step if global_step is None else global_step  # PyTorch spelling
        for tag, value in tag_value_dict.items():
            sub = f"{main_tag}_{tag}".replace("/", "_")
            self._child(sub).add_scalar(main_tag, value, step, walltime)

    def add_histogram(self, tag, values, step=0, bins=64, walltime=None, global_step=None):
        """Log the distribution of ``values``; ``bins`` is passed to ``np.histogram``.

        Non-finite values are left out (a histogram of NaNs has no bins)."""
        step = step if global_step is None else global_step  # PyTorch spelling
        self._summary(step, walltime, pb.string(1, tag), pb.message(5, histogram_proto(values, bins)))

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits,
                          bucket_counts, global_step=None, walltime=None):
        """Log a histogram that is already binned (PyTorch's signature): ``bucket_limits``
        are the right edges of the buckets, ``bucket_counts`` their counts."""
        limits = np.asarray(bucket_limits, dtype=np.float64).reshape(-1)
        counts = np.asarray(bucket_counts, dtype=np.float64).reshape(-1)
        if limits.shape != counts.shape:
            raise ValueError(f"histogram {tag!r}: {limits.size} bucket limits for "
                             f"{counts.size} counts; they must match")
        stats = (min, max, num, sum, sum_squares)
        histo = b"".join(pb.double(i + 1, float(v)) for i, v in enumerate(stats))
        histo += pb.packed_doubles(6, limits) + pb.packed_doubles(7, counts)
        self._summary(global_step or 0, walltime, pb.string(1, tag), pb.message(5, histo))

    def add_image(self, tag, img, step=0, walltime=None, dataformats="CHW", global_step=None):
        """Log an image: float in [0, 1] (clipped) or uint8, laid out as
        ``dataformats`` ("CHW", "HWC" or "HW"), with 1, 3 or 4 channels."""
        step = step if global_step is None else global_step  # PyTorch spelling
        arr = _numpy(img)
        fmt = dataformats.upper()
        if fmt not in ("CHW", "HWC", "HW") or arr.ndim != len(fmt):
            raise ValueError(f"image {tag!r}: shape {arr.shape} does not match dataformats {dataformats!r}")
        if fmt == "HW":
            arr = arr[:, :, None]
        elif fmt == "CHW":
            arr = arr.transpose(1, 2, 0)
        if arr.shape[2] not in (1, 3, 4):
            raise ValueError(f"image {tag!r}: needs 1, 3 or 4 channels, got {arr.shape[2]}")
        if arr.dtype != np.uint8:
            if arr.dtype.kind in "fb":
                arr = np.nan_to_num(np.clip(arr.astype(np.float64), 0.0, 1.0)) * 255.0 + 0.5
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        h, w, c = arr.shape
        image = (pb.uint(1, h) + pb.uint(2, w) + pb.uint(3, c)
                 + pb.blob(4, encode_png(np.ascontiguousarray(arr))))
        self._summary(step, walltime, pb.string(1, tag), pb.message(4, image))

    def add_text(self, tag, text, step=0, walltime=None, global_step=None):
        """Log a (Markdown) string for the Text dashboard."""
        step = step if global_step is None else global_step  # PyTorch spelling
        tensor = (pb.uint(1, _DT_STRING) + pb.message(2, pb.message(2, pb.uint(1, 1)))
                  + pb.string(8, text))
        self._summary(step, walltime, pb.string(1, tag), _plugin_metadata("text"),
                      pb.message(8, tensor))

    def add_hparams(self, hparam_dict, metric_dict, run_name=None, step=0):
        """Log one hparams session: its hyperparameters and final metrics.

        Values may be bool, number or str (anything else is logged as str).
        Metrics are also written as scalars so the HParams dashboard finds them.
        With ``run_name`` it goes to the sub-run ``<log_dir>/<run_name>``
        (PyTorch always makes a sub-run); by default into this run.
        """
        if run_name is not None:
            self._child(run_name).add_hparams(hparam_dict, metric_dict, step=step)
            return
        now = time.time()
        infos, entries = [], []
        for name, value in hparam_dict.items():
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, bool):
                kind, enc = _HP_BOOL, pb.uint(4, value)
            elif isinstance(value, (int, float)):
                kind, enc = _HP_FLOAT64, pb.double(2, value)
            else:
                kind, enc = _HP_STRING, pb.string(3, value)
            infos.append(pb.message(4, pb.string(1, name), pb.uint(4, kind)))
            entries.append(pb.message(1, pb.string(1, name), pb.message(2, enc)))
        metrics = [pb.message(5, pb.message(1, pb.string(2, tag))) for tag in metric_dict]

        def plugin_value(tag, field, body):
            content = pb.uint(1, 0) + pb.message(field, body)  # HParamsPluginData v0
            return (pb.string(1, tag), _plugin_metadata("hparams", content))

        self._summary(step, now, *plugin_value(_EXPERIMENT_TAG, 2, b"".join(infos + metrics)))
        self._summary(step, now, *plugin_value(_SESSION_START_TAG, 3,
                                               b"".join(entries) + pb.double(5, now)))
        for tag, value in metric_dict.items():
            self.add_scalar(tag, value, step, now)
        self._summary(step, now, *plugin_value(_SESSION_END_TAG, 4,
                                               pb.uint(1, _STATUS_SUCCESS) + pb.double(2, now)))

    def add_graph(self, model, input_to_model=None, verbose=False):
        """Write a graph for TensorBoard's Graphs tab (PyTorch's name).

        ``model`` is an ``nn.Module`` traced on ``input_to_model`` (its layers become name
        scopes), an ``ember.graph.Graph``, or a serialized ``GraphDef``."""
        if isinstance(model, (bytes, bytearray)):
            gdef = bytes(model)
        elif hasattr(model, "as_graph_def"):
            gdef = model.as_graph_def()
        else:
            from ember.graph.trace import trace_module
            if input_to_model is None:
                raise ValueError("add_graph(model, input_to_model): an nn.Module needs an "
                                 "example input to trace")
            gdef = trace_module(model, input_to_model).as_graph_def()
        self._write_event(pb.blob(4, gdef))
        if verbose:
            print(f"add_graph: wrote a graph of {len(gdef)} bytes to {self.path}")

    def add_summary_proto(self, summary, step=None, walltime=None):
        """Write an already serialized ``Summary`` protobuf (what tf.summary ops produce)."""
        self._write_event(pb.blob(5, bytes(summary)), step=step, walltime=walltime)

    def flush(self):
        """Push buffered events to disk (TensorBoard sees them after this)."""
        with self._lock:
            if self._file is not None:
                self._flush_locked()
        for child in self._children.values():
            child.flush()

    def close(self):
        """Flush and close the event file(s); calling it again does nothing."""
        with self._lock:
            if self._file is not None:
                self._file.close()  # close() flushes
                self._file = None
        for child in self._children.values():
            child.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
