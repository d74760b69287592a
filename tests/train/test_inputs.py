"""Training inputs are checked before anything changes (weights, optimizer state, batch-norm
running statistics), for arrays and for Dataset / DataLoader inputs."""
import io
import contextlib
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.train import Callback, Model, Sequential
from ember.train.inputs import InputError


def data(n=64, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, c, n)


def bn_model():
    ember.manual_seed(0)
    m = Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    m.compile(optimizer="sgd", loss="cross_entropy")
    return m


def state(m):
    return [v.data.copy() for v in m.state_dict().values()]


def unchanged(m, before):
    return all(np.array_equal(a, b) for a, b in zip(before, state(m)))


@pytest.mark.parametrize("bad", [-1, 3])
def test_label_out_of_range_in_arrays_changes_nothing(bad):
    x, y = data()
    y[40] = bad
    m = bn_model()
    before = state(m)  # includes the batch-norm running mean / var
    with pytest.raises(ValueError, match=rf"label {bad} is not one"):
        m.fit(x, y, batch_size=16, verbose=0)
    assert unchanged(m, before)


def test_label_minus_one_in_a_loader_batch_is_caught_before_that_batch():
    x, y = data()
    y[0] = -1  # first batch: nothing may move, not even the BN statistics
    m = bn_model()
    before = state(m)
    with pytest.raises(InputError, match="-1 does not mean the last class") as e:
        m.fit(DataLoader(TensorDataset(x, y), batch_size=16), verbose=0)
    assert unchanged(m, before)
    assert e.value.finding.check == "training_input" and e.value.finding.step == 0
    # a later batch: the earlier batches trained, the bad one did not
    y[0], y[37] = 0, -1
    m, ref = bn_model(), bn_model()
    with pytest.raises(InputError, match="epoch 1, batch 2"):
        m.fit(DataLoader(TensorDataset(x, y), batch_size=16), verbose=0)
    ref.fit(x[:32], y[:32], batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(state(m), state(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_nan_in_a_loader_batch_stops_with_a_finding_naming_the_batch():
    x, y = data()
    x[50, 2] = np.nan
    m = bn_model()
    with pytest.raises(InputError, match=r"epoch 1, batch 3: x contains 1 NaN") as e:
        m.fit(DataLoader(TensorDataset(x, y), batch_size=16), verbose=0)
    f = e.value.finding
    assert f.severity == "error" and f.step == 3 and "batch 3" in f.message
    from ember.diagnose import format_findings
    assert "training_input" in format_findings([f])


@pytest.mark.parametrize("bs", [2.7, "16", 0, -4, True])
def test_batch_size_must_be_a_positive_int(bs):
    x, y = data()
    m = bn_model()
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        m.fit(x, y, batch_size=bs, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(TensorDataset(x, y), batch_size=bs)


def test_binary_crossentropy_labels_must_be_0_or_1():
    x, y = data()
    ember.manual_seed(0)
    m = Sequential(nn.Linear(6, 1), nn.Sigmoid())
    m.compile(optimizer="sgd", loss="binary_crossentropy")
    before = state(m)
    with pytest.raises(ValueError, match="labels 0 or 1"):
        m.fit(x, y.astype(np.float32), verbose=0)  # labels 0, 1, 2
    assert unchanged(m, before)
    m.fit(x, np.full(len(x), 0.3, np.float32), verbose=0)  # soft targets are probabilities


def test_label_format_mismatches_name_the_loss_and_the_format():
    x, y = data()
    m = bn_model()
    onehot = np.eye(3, dtype=np.float32)[y]
    with pytest.raises(ValueError, match="'cross_entropy' expects class indices.*one-hot"):
        m.fit(x, onehot, verbose=0)
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="one-hot targets of shape"):
        m.fit(DataLoader(TensorDataset(x, y), batch_size=16), verbose=0)
    # an out-of-range label for hinge: a message, not an IndexError from deep inside
    m.compile(optimizer="sgd", loss="hinge")
    y2 = y.copy()
    y2[5] = 7
    with pytest.raises(ValueError, match="loss 'hinge'.*valid class indices are 0..2"):
        m.fit(DataLoader(TensorDataset(x, y2), batch_size=16), verbose=0)


def test_validation_split_leaving_no_training_samples_is_a_clear_error():
    x, y = data(n=100)
    with pytest.raises(ValueError, match="leaves 0 for training"):
        bn_model().fit(x, y, validation_split=0.999, verbose=0)


def test_train_on_batch_runs_the_same_checks_and_the_same_step(monkeypatch):
    x, y = data(n=16)
    m = bn_model()
    before = state(m)
    y[3] = -1
    with pytest.raises(ValueError, match="label -1"):
        m.train_on_batch(x, y)
    assert unchanged(m, before)
    calls = []
    real = Model.train_step
    monkeypatch.setattr(Model, "train_step", lambda self, a, b: calls.append(1) or real(self, a, b))
    y[3] = 0
    loss = m.train_on_batch(x, y)
    assert isinstance(loss, float) and calls == [1]
    m.fit(x, y, batch_size=4, verbose=0)
    assert len(calls) == 5  # fit runs train_step once per batch


def test_probability_loss_given_logits_warns_once_at_the_start_of_fit():
    from ember.keras import layers, models
    x, y = data()
    m = models.Sequential([layers.Dense(8, activation="relu", input_shape=(6,)), layers.Dense(3)])
    m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match="expects probabilities") as rec:
        m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert len([w for w in rec if "expects probabilities" in str(w.message)]) == 1
    m = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(6,))])
    m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(x, y, verbose=0)


def test_fit_warns_once_when_the_loss_grows_past_3x_without_the_doctor():
    x, y = data(n=256)
    ember.manual_seed(0)
    m = Sequential(nn.Linear(6, 64), nn.ReLU(), nn.Linear(64, 3))
    m.compile(optimizer=ember.optim.SGD(m.parameters(), lr=5.0), loss="cross_entropy")
    with pytest.warns(RuntimeWarning, match="more than 3x its first value|became") as rec:
        with np.errstate(all="ignore"):
            m.fit(x * 10, y, epochs=3, batch_size=16, verbose=0)
    assert len([w for w in rec if "diverging" in str(w.message)]) == 1


def test_progress_line_shows_where_training_stopped():
    x, y = data(n=80)

    class StopAt(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                self.model.stop_training = True

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bn_model().fit(x, y, batch_size=4, epochs=3, verbose=2, callbacks=[StopAt()])
    text = out.getvalue()
    assert "4/20 [" in text and "20/20" not in text and "stopped at step 4" in text
    assert text.count("Epoch ") == 1
