"""The ``TensorBoard`` callback: training curves, weight/gradient histograms, weight images and
hparams written to TensorBoard event files while ``Model.fit`` runs (Keras's names).

Layout of ``log_dir`` (as Keras): ``train/`` holds the training scalars (``epoch_loss``,
``epoch_accuracy``, ``epoch_learning_rate``, and ``batch_*`` when ``update_freq`` asks for
batches), histograms and images; ``validation/`` holds the ``val_*`` metrics under the same tags,
so TensorBoard draws training and validation on one chart. Other numbers a callback adds to the
logs (``test_accuracy`` from ``ember train``) go to ``train/`` under their own name. With
``hparams``, ``log_dir`` itself holds the HParams session and the final metrics
(``hparams/val_accuracy``, ...).

The model graph: ``write_graph=True`` writes it when the model's graph can be traced
(``SummaryWriter.add_graph``, from ember's static-graph support); on a build without it the
callback writes no graph and says so once in the log directory's text tab.
"""
import math

import numpy as np

from .callbacks import Callback, _get_lr


class TensorBoard(Callback):
    """Log a ``fit`` run for TensorBoard.

    Args:
        log_dir: folder of the run (created). Point ``tensorboard --logdir`` at it or its parent.
        histogram_freq: every this many epochs, histograms of every weight and of its gradient
            (the last batch's); 0 turns them off.
        write_graph: write the model graph (when graph tracing is available).
        write_images: with histograms, also weight matrices (2-D) and conv kernels (first input
            channel of each filter, tiled) as images.
        update_freq: ``"epoch"`` (default), ``"batch"`` (every batch), or an int N (every N
            batches) for the ``batch_*`` scalars.
        hparams: optional dict of this run's hyperparameters; written with the final metrics
            at the end of training for the HParams tab.
    """

    def __init__(self, log_dir: str = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, update_freq="epoch", hparams: dict = None):
        if update_freq not in ("epoch", "batch") and not (
                isinstance(update_freq, int) and not isinstance(update_freq, bool)
                and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive "
                             f"int, got {update_freq!r}")
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an int >= 0, got "
                             f"{histogram_freq!r}")
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.hparams = dict(hparams) if hparams else None
        self._train = self._val = None
        self._batch = 0
        self._last_logs = {}
        self._graph_pending = False

    # ---- writers -------------------------------------------------------------------------
    def _open(self):
        import os
        from ..io.tensorboard import SummaryWriter
        self._train = SummaryWriter(os.path.join(self.log_dir, "train"))
        self._val = SummaryWriter(os.path.join(self.log_dir, "validation"))

    def _close(self):
        for w in (self._train, self._val):
            if w is not None:
                w.close()
        self._train = self._val = None

    # ---- callback hooks ----------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._open()
        self._last_logs = {}
        self._graph_pending = self.write_graph  # after the first batch, when shapes are known

    def on_train_batch_end(self, batch, logs=None):
        self._batch += 1
        if self._graph_pending:
            self._graph_pending = False
            self._write_graph()
        if self.update_freq == "epoch" or self._batch % self.update_freq:
            return
        for k, v in (logs or {}).items():
            if _is_number(v):
                self._train.add_scalar("batch_" + k, float(v), self._batch)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        lr = logs.get("lr")
        if lr is None and self.model is not None and getattr(self.model, "optimizer", None):
            lr = _get_lr(self.model.optimizer, self.model)
        for k, v in logs.items():
            if not _is_number(v) or k == "lr":
                continue
            if k.startswith("val_"):
                self._val.add_scalar("epoch_" + k[4:], float(v), epoch)
            else:
                self._train.add_scalar("epoch_" + k, float(v), epoch)
        if _is_number(lr):
            self._train.add_scalar("epoch_learning_rate", float(lr), epoch)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            self._write_weights(epoch)
        self._last_logs = logs
        self._train.flush()
        self._val.flush()

    def on_train_end(self, logs=None):
        try:
            if self.hparams and self._train is not None:
                # the session goes in log_dir itself, its final metrics under hparams/ (not
                # the epoch_* tags: that would add a stray point to the training curves)
                from ..io.tensorboard import SummaryWriter
                metrics = {"hparams/" + k: float(v) for k, v in self._last_logs.items()
                           if _is_number(v) and math.isfinite(float(v))}
                with SummaryWriter(self.log_dir) as w:
                    w.add_hparams(self.hparams, metrics)
        finally:
            self._close()

    # ---- contents ----------------------------------------------------------------------
    def _write_weights(self, epoch):
        for name, p in self.model.named_parameters():
            tag = name.replace(".", "/")
            self._train.add_histogram(tag, p.data, epoch)
            if p.grad is not None:
                self._train.add_histogram(tag + "/gradient", p.grad.data, epoch)
            if self.write_images:
                img = _weight_image(p.data)
                if img is not None:
                    self._train.add_image(tag + "/image", img, epoch, dataformats="HW")

    def _write_graph(self):
        add_graph = getattr(self._train, "add_graph", None)
        shape = getattr(self.model, "input_shape", None)
        if add_graph is None or shape is None:
            self._train.add_text("graph", "No graph written: this ember build cannot trace the "
                                 "model's graph yet (SummaryWriter.add_graph is missing or no "
                                 "example input was seen).", 0)
            return
        from ..creation import zeros
        add_graph(self.model, zeros((1,) + tuple(shape)))


def _is_number(v):
    if isinstance(v, (bool, np.bool_)):
        return False
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return np.ndim(v) == 0


def _weight_image(w):
    """A weight as a grey image in [0, 1]: a matrix as it is, a conv kernel (out, in, kh, kw) as
    its filters' first input channel side by side; None for vectors."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 2:
        img = w
    elif w.ndim == 4:
        k = w[:, 0]  # (out, kh, kw)
        pad = np.full((k.shape[0], k.shape[1], 1), np.nan)
        img = np.concatenate([k, pad], axis=2).transpose(1, 0, 2).reshape(k.shape[1], -1)
    else:
        return None
    finite = np.isfinite(img)
    if not finite.any():
        return None
    lo, hi = img[finite].min(), img[finite].max()
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return np.where(finite, img, 0.0)
