"""ember.callbacks.TensorBoard, read back with the tensorboard package's own event reader."""
import numpy as np
import pytest

pytest.importorskip("tensorboard")
from ._events import read_events as _read  # noqa: E402

import ember  # noqa: E402
from ember import nn  # noqa: E402


def _fit(tmp_path, **kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    ember.manual_seed(0)
    model = ember.Model(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)))
    model.compile(optimizer="sgd", loss="cross_entropy", metrics=["accuracy"])
    cb = ember.callbacks.TensorBoard(str(tmp_path / "logs"), **kw)
    hist = model.fit(x, y, batch_size=32, epochs=3, validation_split=0.25, callbacks=[cb],
                     verbose=0)
    return model, hist


def test_epoch_scalars_match_the_history(tmp_path):
    _, hist = _fit(tmp_path)
    train = _read(tmp_path / "logs" / "train")
    val = _read(tmp_path / "logs" / "validation")
    loss = [e.value for e in train.Scalars("epoch_loss")]
    assert loss == pytest.approx(hist.history["loss"], rel=1e-6)
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1, 2]
    assert [e.value for e in val.Scalars("epoch_accuracy")] == pytest.approx(
        hist.history["val_accuracy"], rel=1e-6)
    lr = [e.value for e in train.Scalars("epoch_learning_rate")]
    assert lr == pytest.approx([0.01] * 3)


def test_histograms_images_batches_and_hparams(tmp_path):
    model, _ = _fit(tmp_path, histogram_freq=1, write_images=True, update_freq="batch",
                    hparams={"lr": 0.01, "opt": "sgd"})
    train = _read(tmp_path / "logs" / "train")
    tags = train.Tags()
    names = [n.replace(".", "/") for n, _ in model.named_parameters()]
    for n in names:
        assert n in tags["histograms"] and n + "/gradient" in tags["histograms"]
    w = dict(model.named_parameters())[next(iter(dict(model.named_parameters())))]
    last = train.Histograms(names[0])[-1].histogram_value
    assert last.num == w.data.size and last.sum == pytest.approx(float(w.data.sum()), rel=1e-5)
    assert names[0] + "/image" in tags["images"]
    assert len(train.Scalars("batch_loss")) == 3 * 3  # 72 training samples / 32 -> 3 batches
    session = _read(tmp_path / "logs")
    assert "_hparams_/session_start_info" in session.PluginTagToContent("hparams")
    assert "hparams/val_accuracy" in session.Tags()["scalars"]
    assert "accuracy" not in train.Tags()["scalars"]  # no stray copies next to the curves


def test_bad_arguments():
    with pytest.raises(ValueError, match="update_freq"):
        ember.callbacks.TensorBoard("x", update_freq="sometimes")
    with pytest.raises(ValueError, match="histogram_freq"):
        ember.callbacks.TensorBoard("x", histogram_freq=-1)
    from ember.keras import callbacks
    assert callbacks.TensorBoard is ember.callbacks.TensorBoard


def test_write_graph_puts_the_model_graph_in_the_graphs_tab(tmp_path):
    _fit(tmp_path, write_graph=True)
    train = _read(tmp_path / "logs" / "train")
    assert train.Tags()["graph"]
    names = [n.name for n in train.Graph().node]
    assert any("Linear[0]" in n for n in names) and any("ReLU[1]" in n for n in names)
