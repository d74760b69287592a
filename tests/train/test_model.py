"""Keras-style training on small synthetic problems: fit/evaluate/predict, callbacks, progress
output, checkpoints and resume, input checks, and keras vs nn equivalence."""
import csv
import io
import os

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember import optim
from ember.keras import layers, models
from ember.train import (BatchSizeScheduler, CSVLogger, EarlyStopping, LambdaCallback,
                         LearningRateScheduler, Model, ModelCheckpoint, ReduceLROnPlateau,
                         Sequential, TerminateOnNaN)


def blobs(n=600, d=8, c=3, seed=0):
    """Well-separated Gaussian blobs: a problem any working trainer solves."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((c, d)) * 3
    y = rng.integers(0, c, n)
    x = centers[y] + rng.standard_normal((n, d))
    return x.astype(np.float32), y


def mlp(d=8, c=3):
    return Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, c))


def test_fit_evaluate_predict():
    x, y = blobs()
    model = mlp()
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=32, epochs=5, validation_split=0.2, verbose=0)
    assert set(hist.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(hist.history["loss"]) == 5
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    loss, acc = model.evaluate(x, y)
    assert acc > 0.95 and loss < 0.3
    p = model.predict(x[:10])
    assert isinstance(p, np.ndarray) and p.shape == (10, 3)
    assert (p.argmax(1) == model.predict(x[:10], batch_size=3).argmax(1)).all()


def test_wrapping_a_module_and_optimizer_instance():
    x, y = blobs()
    net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    model = Model(net)
    model.compile(optimizer=optim.SGD(net.parameters(), lr=0.1, momentum=0.9),
                  loss=nn.CrossEntropyLoss(), metrics=["accuracy"])
    model.fit(x, y, epochs=3, verbose=0)
    assert model.evaluate(x, y)[1] > 0.95


def test_keras_textbook_style_with_softmax_and_one_hot():
    x, y = blobs()
    model = models.Sequential([layers.Dense(32, activation="relu", input_shape=(8,)),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, ember.data.to_categorical(y), epochs=4, batch_size=32, verbose=0)
    loss, acc = model.evaluate(x, ember.data.to_categorical(y))
    assert acc > 0.95
    np.testing.assert_allclose(model.predict(x[:5]).sum(1), 1, rtol=1e-5)


def test_keras_and_nn_manual_loop_give_identical_weights():
    x, y = blobs(n=256)
    ember.manual_seed(3)
    km = models.Sequential([layers.Dense(16, activation="relu", input_shape=(8,)),
                            layers.Dense(3)])
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    net.load_state_dict({"0.weight": km[0].weight.data, "0.bias": km[0].bias.data,
                         "2.weight": km[1].weight.data, "2.bias": km[1].bias.data})
    ember.manual_seed(7)
    km.compile(optimizer=optim.SGD(km.parameters(), lr=0.05, momentum=0.9),
               loss="cross_entropy")
    km.fit(x, y, batch_size=32, epochs=3, verbose=0)

    ember.manual_seed(7)
    opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    loader = ember.data.DataLoader(ember.data.TensorDataset(x, y), batch_size=32, shuffle=True)
    for _ in range(3):
        for xb, yb in loader:
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    np.testing.assert_array_equal(km[0].weight.data, net[0].weight.data)
    np.testing.assert_array_equal(km[1].bias.data, net[2].bias.data)


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    x, y = blobs(n=300)

    def fresh():
        ember.manual_seed(11)
        m = mlp()
        m.compile(optimizer="adam", loss="cross_entropy")
        return m

    full = fresh()
    full.fit(x, y, epochs=4, batch_size=32, verbose=0)

    part = fresh()
    part.fit(x, y, epochs=2, batch_size=32, verbose=0)
    part.save(tmp_path / "ck.safetensors")
    ember.manual_seed(999)  # a different random state: the checkpoint must restore it
    resumed = mlp()
    resumed.compile(optimizer="adam", loss="cross_entropy")
    epoch = resumed.load(tmp_path / "ck.safetensors")
    assert epoch == 2
    resumed.fit(x, y, epochs=4, batch_size=32, verbose=0, initial_epoch=epoch)
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)


@pytest.mark.parametrize("x,y,loss,match", [
    (np.zeros((10, 8), np.float32), np.zeros(9, np.int64), "cross_entropy", "10 samples but y has 9"),
    (np.zeros((10, 8), np.float32), np.full(10, 3), "cross_entropy", r"\[3, 3\].*0\.\.2"),
    (np.full((10, 8), np.nan, np.float32), np.zeros(10, np.int64), "cross_entropy", "NaN"),
    (np.zeros((10, 8), np.float32), np.zeros(10, np.int64), "categorical_crossentropy",
     "to_categorical"),
])
def test_bad_input_is_reported_before_training(x, y, loss, match):
    model = mlp()
    model.compile(optimizer="sgd", loss=loss)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, epochs=1, verbose=0)
    for b, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(b, p.data)


def test_early_stopping_and_restore_best(tmp_path):
    x, y = blobs()
    model = mlp()
    model.compile(optimizer=optim.SGD(model.parameters(), lr=0.0), loss="cross_entropy")
    es = EarlyStopping(monitor="loss", patience=1)
    hist = model.fit(x, y, epochs=20, verbose=0, callbacks=[es])
    assert len(hist.history["loss"]) == 2 and es.stopped_epoch == 1

    # weights made worse after the best epoch are put back
    best = {}

    def spoil(epoch, logs):
        if epoch == 0:
            best.update({k: v.data.copy() for k, v in model.state_dict().items()})
        if model.stop_training:  # EarlyStopping (called first) has just restored the best
            return
        with ember.no_grad():
            for p in model.parameters():
                p.add_(ember.randn(*p.shape) * 5)

    es = EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    hist = model.fit(x, y, epochs=20, verbose=0,
                     callbacks=[es, LambdaCallback(on_epoch_end=spoil)])
    assert hist.history["loss"][1] > hist.history["loss"][0]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.data, best[k], err_msg=k)


def test_model_checkpoint_save_best_only(tmp_path):
    x, y = blobs()
    model = mlp()
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    path = str(tmp_path / "best-{epoch:02d}.safetensors")
    ck = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    hist = model.fit(x, y, epochs=3, verbose=0, validation_split=0.2, callbacks=[ck])
    vl = hist.history["val_loss"]
    improved = [i for i in range(3) if vl[i] == min(vl[:i + 1])]
    assert [os.path.basename(p) for p in ck.saved] == [f"best-{i + 1:02d}.safetensors"
                                                        for i in improved]
    other = mlp()
    other.compile(optimizer="adam", loss="cross_entropy")
    other.load(ck.saved[-1])


def test_lr_scheduler_plateau_csv_lambda_and_batch_size(tmp_path):
    x, y = blobs()
    model = mlp()
    model.compile(optimizer="sgd", loss="cross_entropy")
    seen, sizes = [], []
    cbs = [LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch),
           LambdaCallback(on_epoch_end=lambda e, logs: seen.append(
               model.optimizer.param_groups[0]["lr"])),
           BatchSizeScheduler(lambda epoch, bs: 16 * 2 ** epoch),
           LambdaCallback(on_epoch_begin=lambda e, logs: sizes.append(model.batch_size)),
           CSVLogger(tmp_path / "log.csv")]
    hist = model.fit(x, y, epochs=3, verbose=0, callbacks=cbs)
    assert seen == [0.1, 0.05, 0.025]
    assert sizes == [16, 32, 64]
    assert hist.params["steps"] == int(np.ceil(600 / 64))
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], hist.history["loss"], rtol=1e-6)

    # a loss that cannot move (lr far below float32 resolution) plateaus: with patience 1 the
    # lr halves after every epoch without improvement, never below min_lr
    m2 = mlp()
    m2.compile(optimizer=optim.SGD(m2.parameters(), lr=1e-12), loss="cross_entropy")
    rl = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=2e-13)
    hist = m2.fit(x, y, epochs=5, verbose=0, shuffle=False, callbacks=[rl])
    assert len(set(hist.history["loss"])) == 1
    np.testing.assert_allclose(hist.history["lr"], [1e-12, 1e-12, 5e-13, 2.5e-13, 2e-13])


def test_terminate_on_nan():
    x, y = blobs()
    model = mlp()
    model.compile(optimizer=optim.SGD(model.parameters(), lr=1e30), loss="cross_entropy")
    hist = model.fit(x, y, epochs=5, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(hist.history["loss"]) == 1


def test_progress_is_one_line_per_epoch_off_a_terminal(capsys):
    x, y = blobs()
    model = mlp()
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=1)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2" and len(out) == 4
    assert "19/19" in out[1] and "loss:" in out[1] and "accuracy:" in out[1]
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal():
    from ember.train.progress import ProgressBar

    class TTY(io.StringIO):
        def isatty(self):
            return True

    s = TTY()
    bar = ProgressBar(1, stream=s, min_interval=0)
    bar.epoch_begin(0, 1, 4)
    for i in range(1, 5):
        bar.batch_end(i, {"loss": 1.0 / i})
    bar.epoch_end({"loss": 0.25})
    text = s.getvalue()
    assert "\r2/4 [" in text and "ETA" in text and "loss: 0.5000" in text
    assert text.count("\n") == 2


def test_freezing_a_keras_layer():
    x, y = blobs()
    model = models.Sequential([layers.Dense(16, activation="relu", input_shape=(8,)),
                               layers.Dense(3)])
    model.layers[0].trainable = False
    w0 = model.layers[0].weight.data.copy()
    model.compile(optimizer="adam", loss="cross_entropy")
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.layers[0].weight.data, w0)
    assert not np.allclose(model.layers[1].weight.data, 0)


def test_keras_conv_stack_channels_last():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 8, 8, 1)).astype(np.float32)
    y = (x[:, :4].mean((1, 2, 3)) > x[:, 4:].mean((1, 2, 3))).astype(np.int64)
    model = models.Sequential([layers.Conv2D(4, 3, padding="same", activation="relu",
                                             input_shape=(8, 8, 1)),
                               layers.MaxPooling2D(2), layers.Flatten(),
                               layers.Dense(2, activation="softmax")])
    assert model.predict(x[:3]).shape == (3, 2)
    assert model.layers[0].weight.shape == (4, 1, 3, 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_compile_errors():
    model = mlp()
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile(loss="crossentropy")
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(np.zeros((2, 8), np.float32), np.zeros(2, np.int64))


def test_fit_accepts_tensors_datasets_and_dataloaders():
    x, y = blobs()
    for make in (lambda: dict(x=ember.tensor(x), y=ember.tensor(y)),
                 lambda: dict(x=ember.data.TensorDataset(x, y)),
                 lambda: dict(x=ember.data.DataLoader(ember.data.TensorDataset(x, y),
                                                      batch_size=32, shuffle=True))):
        model = mlp()
        model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
        hist = model.fit(**make(), epochs=3, verbose=0)
        assert hist.history["accuracy"][-1] > 0.9
        assert model.evaluate(**make())[1] > 0.9
        assert model.predict(make()["x"]).shape == (600, 3)


def test_keras_names_layouts_and_textbook_spellings():
    from ember.keras import optimizers
    m = models.Sequential()
    m.add(layers.Dense(4, activation="relu", input_shape=(3,)))
    m.add(layers.BatchNormalization())
    m.add(layers.Dense(2, activation="softmax"))
    assert m.input_shape == (3,)  # built on add, as Keras: summary works before fit
    info = m.summary()
    names = [l.name for l in m.layers]
    assert names[1] == "batch_normalization" and names[0].startswith("dense")
    assert m.get_layer(names[2]) is m.layers[2]
    kernel, bias = m.layers[0].get_weights()
    assert kernel.shape == (3, 4) and bias.shape == (4,)  # Keras layout (in, units)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    with ember.no_grad():
        np.testing.assert_allclose(m.layers[0](ember.tensor(x)).data,
                                   np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
    m.layers[0].set_weights([np.ones((3, 4)), np.zeros(4)])
    np.testing.assert_array_equal(m.layers[0].get_weights()[0], np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        m.layers[0].set_weights([np.ones((4, 3)), np.zeros(4)])
    conv = layers.Conv2D(5, 3, input_shape=(8, 8, 2))
    models.Sequential([conv])
    assert conv.get_weights()[0].shape == (3, 3, 2, 5)
    # textbook spellings: lr=, metrics=['acc'] logged as 'acc', top_k_categorical_accuracy
    xs, ys = blobs(n=64, d=3, c=2)
    m.compile(optimizer=optimizers.RMSprop(lr=1e-3), loss="categorical_crossentropy",
              metrics=["acc", "top_k_categorical_accuracy"])
    hist = m.fit(xs, ember.data.to_categorical(ys), epochs=1, verbose=0)
    assert "acc" in hist.history and "top_k_categorical_accuracy" in hist.history
    assert m.optimizer.param_groups[0]["lr"] == 1e-3


def test_resume_with_dropout_and_batchnorm_equals_uninterrupted(tmp_path):
    x, y = blobs(n=300)

    def fresh():
        ember.manual_seed(5)
        m = Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3),
                       nn.Linear(32, 3))
        m.compile(optimizer="adam", loss="cross_entropy")
        return m

    full = fresh()
    full.fit(x, y, epochs=3, batch_size=32, verbose=0)
    part = fresh()
    part.fit(x, y, epochs=1, batch_size=32, verbose=0)
    part.save(tmp_path / "ck.safetensors")
    resumed = fresh()
    resumed.fit(x, y, epochs=3, batch_size=32, verbose=0,
                initial_epoch=resumed.load(tmp_path / "ck.safetensors"))
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)


def test_pre_training_check_moves_no_batchnorm_statistics():
    x, y = blobs(n=32)
    m = Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    m.compile(optimizer=optim.SGD(m.parameters(), lr=0.0), loss="cross_entropy")
    m.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    ref = nn.BatchNorm1d(4)
    ref.load_state_dict({k[2:]: v for k, v in m.state_dict().items() if k.startswith("1.")} |
                        {"running_mean": ember.zeros(4), "running_var": ember.ones(4),
                         "num_batches_tracked": ember.tensor(0)}, strict=False)
    with ember.no_grad():
        ref(m[0](ember.tensor(x)))  # exactly one training-mode pass
    np.testing.assert_allclose(m[1].running_mean.data, ref.running_mean.data, rtol=1e-6)


def test_fit_edge_cases_and_mode_restoring():
    x, y = blobs(n=64)
    m = mlp()
    m.compile(optimizer="adam", loss="cross_entropy")
    hist = m.fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert hist.history == {}
    loader = ember.data.DataLoader(ember.data.TensorDataset(x, y), batch_size=100,
                                   drop_last=True)
    with pytest.raises(ValueError, match="no batches"):
        m.fit(loader, epochs=1, verbose=0)
    y_bad = y.copy()
    y_bad[-1] = 7  # beyond the first batch
    with pytest.raises(ValueError, match=r"\[0, 7\].*0\.\.2"):
        m.fit(x, y_bad, batch_size=16, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="y contains 1 NaN"):
        r = Sequential(nn.Linear(8, 1))
        r.compile(optimizer="sgd", loss="mse")
        r.fit(x, np.r_[np.zeros(63), np.nan].astype(np.float32), verbose=0)
    m.eval()
    m.evaluate(x, y)
    assert not m.training


def test_load_needs_compile_and_matching_optimizer(tmp_path):
    x, y = blobs(n=64)
    m = mlp()
    m.compile(optimizer="adam", loss="cross_entropy")
    m.fit(x, y, epochs=1, verbose=0)
    m.save(tmp_path / "m.safetensors")
    fresh = mlp()
    before = [p.data.copy() for p in fresh.parameters()]
    with pytest.raises(RuntimeError, match="compile"):
        fresh.load(tmp_path / "m.safetensors")
    for b, p in zip(before, fresh.parameters()):
        np.testing.assert_array_equal(b, p.data)  # nothing half-loaded
    fresh.compile(optimizer=optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9),
                  loss="cross_entropy")
    with pytest.raises(ValueError, match="optimizer state does not fit"):
        fresh.load(tmp_path / "m.safetensors")


def test_lr_scheduler_with_lazy_layers_and_a_dataloader():
    x, y = blobs(n=64)
    m = models.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3)])
    m.compile(optimizer="sgd", loss="cross_entropy")
    loader = ember.data.DataLoader(ember.data.TensorDataset(x, y), batch_size=16)
    m.fit(loader, epochs=2, verbose=0,
          callbacks=[LearningRateScheduler(lambda epoch, lr: 0.5 ** epoch)])
    assert m.optimizer.param_groups[0]["lr"] == 0.5


def test_frozen_keras_batchnorm_keeps_its_moving_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 6, 6, 2)).astype(np.float32) + 3
    y = rng.integers(0, 3, 32)
    m = models.Sequential([layers.Conv2D(4, 3, input_shape=(6, 6, 2)),
                           layers.BatchNormalization(), layers.Flatten(), layers.Dense(3)])
    bn = m.layers[1]
    bn.trainable = False
    before = bn.bn.running_mean.data.copy()
    m.compile(optimizer="adam", loss="cross_entropy")
    m.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(bn.bn.running_mean.data, before)
    assert m.summary()["total_params"] == 76 + 8 + (4 * 4 * 4 * 3 + 3)


def test_doctor_callback_can_be_reused_and_detaches_on_errors():
    import ember.diagnose as dx
    x, y = blobs()
    m = mlp()
    cb = dx.DoctorCallback(report=False, verbose=False)
    m.compile(optimizer=optim.SGD(m.parameters(), lr=1e4), loss="cross_entropy")
    h1 = m.fit(x, y, epochs=3, verbose=0, callbacks=[cb])
    assert len(h1.history["loss"]) == 1  # stopped: exploding loss
    m.load_state_dict(mlp().state_dict())
    m.optimizer.param_groups[0]["lr"] = 0.01
    m.optimizer.state.clear()
    h2 = m.fit(x, y, epochs=3, verbose=0, callbacks=[cb])  # the same callback, a sane lr
    assert len(h2.history["loss"]) == 3
    m2 = mlp()
    cb2 = dx.DoctorCallback(report=False, verbose=False)
    m2.compile(optimizer="adam", loss="cross_entropy")
    assert len(m2.fit(x, y, epochs=2, verbose=0, callbacks=[cb2]).history["loss"]) == 2
    assert len(m2.fit(x, y, epochs=2, verbose=0, callbacks=[cb2]).history["loss"]) == 2

    def boom(epoch, logs):
        raise RuntimeError("user callback failed")

    with pytest.raises(RuntimeError, match="user callback failed"):
        m2.fit(x, y, epochs=1, verbose=0, callbacks=[cb2, LambdaCallback(on_epoch_end=boom)])
    assert all(not mod._forward_hooks for mod in m2.modules())  # hooks removed
