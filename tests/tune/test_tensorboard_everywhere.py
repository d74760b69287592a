"""TensorBoard logs from `ember train` (on by default) and from the training doctor."""
import os

import numpy as np
import pytest

pytest.importorskip("tensorboard")
from ._events import read_events as _read  # noqa: E402

import ember  # noqa: E402
from ember import nn  # noqa: E402
from ember.diagnose.doctor import DoctorCallback  # noqa: E402

from .test_search_fashion_mnist import _have_fashion_mnist  # noqa: E402


def test_doctor_writes_activation_histograms_and_findings(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 10)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    ember.manual_seed(0)
    model = ember.Model(nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2)))
    model.compile(optimizer="sgd", loss="cross_entropy", metrics=["accuracy"])
    cb = DoctorCallback(report=False, verbose=False, every=2, tensorboard=str(tmp_path / "doc"))
    model.fit(x, y, batch_size=16, epochs=2, callbacks=[cb], verbose=0)
    acc = _read(tmp_path / "doc")
    hists = [t for t in acc.Tags()["histograms"] if t.startswith("doctor/activations/")]
    assert hists, acc.Tags()
    first = acc.Histograms(hists[0])
    # one histogram per sampled step (every 2nd of 16 steps)
    assert len(first) == len(cb.doctor.monitor.history[next(iter(cb.doctor.monitor.history))])
    rec = next(iter(cb.doctor.monitor.history.values()))[0]
    assert first[0].histogram_value.num == pytest.approx(float(np.sum(rec.hist[0])))
    assert len(acc.Scalars("doctor/loss")) == len(cb.doctor.losses)
    assert "doctor/findings" in acc.Tags()["tensors"]


@pytest.mark.skipif(not _have_fashion_mnist(), reason="Fashion-MNIST not installed")
def test_ember_train_writes_tensorboard_by_default_and_not_when_off(tmp_path):
    from ember.cli.train import run
    cfg = tmp_path / "c.toml"
    base = ('[data]\ndataset = "fashion_mnist"\nlayout = "flat"\nvalidation_split = 0.9\n'
            '[[model.layers]]\ntype = "Linear"\nin_features = 784\nout_features = 10\n'
            '[solver]\nmax_epochs = 1\nbatch_size = 256\nrun_dir = "{rd}"\n{extra}')
    cfg.write_text(base.format(rd=tmp_path / "runs", extra="doctor = true\n"))
    report = run(str(cfg), verbose=0)
    tb = os.path.join(report["run_dir"], "tensorboard")
    train = _read(os.path.join(tb, "train"))
    assert [e.value for e in train.Scalars("epoch_test_accuracy")] == pytest.approx(
        [report["test_accuracy"]], abs=1e-6)
    assert "_hparams_/session_start_info" in _read(tb).PluginTagToContent("hparams")
    assert "doctor/findings" in _read(os.path.join(tb, "doctor")).Tags()["tensors"]
    cfg.write_text(base.format(rd=tmp_path / "runs2", extra="tensorboard = false\n"))
    report = run(str(cfg), verbose=0)
    assert not os.path.exists(os.path.join(report["run_dir"], "tensorboard"))


def test_the_switches_must_be_booleans(tmp_path):
    from ember.cli.config import ConfigError, load_config
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[model.layers]]\ntype = "ReLU"\n[solver]\ntensorboard = "no"\n')
    with pytest.raises(ConfigError, match="tensorboard"):
        load_config(str(cfg))
