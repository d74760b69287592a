"""Keras sequence layers against Keras's formulas written out in NumPy (gate orders, masks,
go_backwards, return_state, Bidirectional), Keras's initialisers, and the 1-D layers."""
import numpy as np
import pytest

import ember
from ember.keras import layers, models
from ember.keras.recurrent import get_mask


def sig(z):
    return 1 / (1 + np.exp(-z))


def np_keras_rnn(kind, x, mask, w, go_backwards=False, act=np.tanh):
    """Keras's recurrences, step by step; masked steps keep the state (and output 0 here)."""
    B, T, _ = x.shape
    k, rk, b = w
    u = rk.shape[0]
    h = np.zeros((B, u))
    c = np.zeros((B, u))
    outs = []
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in steps:
        xt = x[:, t]
        if kind == "lstm":
            z = xt @ k + h @ rk + b
            i, f, cc, o = sig(z[:, :u]), sig(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), \
                sig(z[:, 3 * u:])
            cn = f * c + i * cc
            hn = o * np.tanh(cn)
        elif kind == "gru":             # reset_after=True, columns z, r, h
            xz = xt @ k + b[0]
            hz = h @ rk + b[1]
            zg = sig(xz[:, :u] + hz[:, :u])
            r = sig(xz[:, u:2 * u] + hz[:, u:2 * u])
            hh = np.tanh(xz[:, 2 * u:] + r * hz[:, 2 * u:])
            hn = zg * h + (1 - zg) * hh
            cn = c
        else:
            hn = act(xt @ k + h @ rk + b)
            cn = c
        m = np.ones((B, 1), bool) if mask is None else mask[:, t][:, None]
        h, c = np.where(m, hn, h), np.where(m, cn, c)
        outs.append(np.where(m, hn, 0))
    return np.stack(outs, 1), h, c


def _random_weights(layer, rng):
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.get_weights()])
    return [w.astype(np.float64) for w in layer.get_weights()]


X_IDS = np.array([[3, 1, 4, 1, 5, 0, 0], [2, 7, 1, 8, 2, 8, 1], [6, 0, 0, 0, 0, 0, 0]])


@pytest.mark.parametrize("kind,cls", [("lstm", layers.LSTM), ("gru", layers.GRU),
                                      ("rnn", layers.SimpleRNN)])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_layers_follow_keras_formulas_with_masks(kind, cls, go_backwards):
    rng = np.random.default_rng(0)
    emb = layers.Embedding(10, 4, mask_zero=True)
    rnn = cls(5, return_sequences=True, return_state=True, go_backwards=go_backwards)
    e = emb(ember.Tensor(X_IDS))
    np.testing.assert_array_equal(get_mask(e), X_IDS != 0)
    rnn(e)                                          # builds the weights
    w = _random_weights(rnn, rng)
    res = rnn(emb(ember.Tensor(X_IDS)))
    ys, h, c = np_keras_rnn(kind, e.data.astype(np.float64), X_IDS != 0, w, go_backwards)
    np.testing.assert_allclose(res[0].data, ys, atol=1e-5)
    np.testing.assert_allclose(res[1].data, h, atol=1e-5)
    if kind == "lstm":
        np.testing.assert_allclose(res[2].data, c, atol=1e-5)
    assert len(res) == (3 if kind == "lstm" else 2)
    # the mask travels on with the sequence (reversed with go_backwards, as the outputs)
    want = (X_IDS != 0)[:, ::-1] if go_backwards else X_IDS != 0
    np.testing.assert_array_equal(get_mask(res[0]), want)


def test_simple_rnn_relu_and_initial_state():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    rnn = layers.SimpleRNN(4, activation="relu")
    rnn(ember.Tensor(x))
    k, rk, b = _random_weights(rnn, rng)
    h0 = rng.standard_normal((2, 4)).astype(np.float32)
    out = rnn(ember.Tensor(x), initial_state=[ember.Tensor(h0)])
    h = h0.astype(np.float64)
    for t in range(4):
        h = np.maximum(x[:, t] @ k + h @ rk + b, 0)
    np.testing.assert_allclose(out.data, h, atol=1e-5)


@pytest.mark.parametrize("mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_merges_time_aligned_outputs(mode):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    bi = layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode=mode)
    bi(ember.Tensor(x))
    for sub in (bi.forward_layer, bi.backward_layer):
        _random_weights(sub, rng)
    y = bi(ember.Tensor(x)).data
    f, _, _ = np_keras_rnn("gru", x, None, bi.forward_layer.get_weights())
    b, _, _ = np_keras_rnn("gru", x, None, bi.backward_layer.get_weights(), go_backwards=True)
    b = b[:, ::-1]
    want = {"concat": np.concatenate([f, b], -1), "sum": f + b, "ave": (f + b) / 2,
            "mul": f * b}[mode]
    np.testing.assert_allclose(y, want, atol=1e-5)


def test_keras_initializers():
    lstm = layers.LSTM(8)
    lstm(ember.Tensor(np.zeros((1, 2, 6), np.float32)))
    k, rk, b = lstm.get_weights()
    assert k.shape == (6, 32) and rk.shape == (8, 32) and b.shape == (32,)
    limit = np.sqrt(6 / (6 + 32))
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit     # glorot_uniform
    np.testing.assert_allclose(rk @ rk.T, np.eye(8), atol=1e-5)             # orthogonal rows
    np.testing.assert_array_equal(b, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    gru = layers.GRU(3)
    gru(ember.Tensor(np.zeros((1, 2, 2), np.float32)))
    assert gru.get_weights()[2].shape == (2, 9) and not gru.get_weights()[2].any()
    emb = layers.Embedding(50, 4).get_weights()[0]
    assert emb.shape == (50, 4) and np.abs(emb).max() <= 0.05


def test_padding_amount_does_not_change_the_result():
    ember.manual_seed(0)
    model = models.Sequential([layers.Embedding(10, 4, mask_zero=True),
                               layers.Bidirectional(layers.LSTM(5)), layers.Dense(2)])
    short = np.array([[3, 1, 4, 0], [2, 7, 0, 0]])
    long = np.pad(short, ((0, 0), (0, 6)))
    a, b = model(ember.Tensor(short)), model(ember.Tensor(long))
    np.testing.assert_array_equal(a.data, b.data)
    model.train()
    grads = []
    for x in (short, long):
        model.zero_grad()
        model(ember.Tensor(x)).sum().backward()
        grads.append([p.grad.data.copy() for p in model.parameters()])
    for g0, g1 in zip(*grads):
        np.testing.assert_allclose(g0, g1, rtol=1e-5, atol=1e-7)


def test_mask_flows_through_dropout_to_the_recurrent_layer():
    ember.manual_seed(0)
    emb = layers.Embedding(10, 4, mask_zero=True)
    drop = layers.Dropout(0.5)
    drop.train()
    x = ember.Tensor(X_IDS)
    e = emb(x)
    assert e.requires_grad          # the dropout node records its input
    np.testing.assert_array_equal(get_mask(drop(e)), X_IDS != 0)


def test_global_poolings_respect_the_mask():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 7, 4)).astype(np.float32)
    m = X_IDS != 0
    avg = layers.GlobalAveragePooling1D()(ember.Tensor(x), mask=m).data
    mx = layers.GlobalMaxPooling1D()(ember.Tensor(x), mask=m).data
    for b in range(3):
        np.testing.assert_allclose(avg[b], x[b, m[b]].mean(0), rtol=1e-6)
        np.testing.assert_allclose(mx[b], x[b, m[b]].max(0))
    np.testing.assert_allclose(layers.GlobalAveragePooling1D()(ember.Tensor(x)).data,
                               x.mean(1), rtol=1e-6)


def _np_conv1d(x, k, b, stride=1, dil=1):
    K = k.shape[0]
    T = (x.shape[1] - dil * (K - 1) - 1) // stride + 1
    return np.stack([sum(x[:, t * stride + j * dil] @ k[j] for j in range(K)) + b
                     for t in range(T)], 1)


@pytest.mark.parametrize("padding,strides,dil", [("valid", 1, 1), ("valid", 2, 2),
                                                 ("same", 2, 1), ("causal", 1, 2)])
def test_conv1d_keras(padding, strides, dil):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 9, 3)).astype(np.float32)
    conv = layers.Conv1D(5, 3, strides=strides, padding=padding, dilation_rate=dil)
    conv(ember.Tensor(x))
    k, b = _random_weights(conv, rng)
    assert k.shape == (3, 3, 5)
    y = conv(ember.Tensor(x)).data
    xp = x.astype(np.float64)
    if padding == "causal":
        xp = np.pad(xp, ((0, 0), (dil * 2, 0), (0, 0)))
    elif padding == "same":
        out = -(-9 // strides)
        total = max((out - 1) * strides + 3 - 9, 0)
        xp = np.pad(xp, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    np.testing.assert_allclose(y, _np_conv1d(xp, k, b, strides, dil), atol=1e-5)
    if padding in ("same", "causal"):
        assert y.shape[1] == -(-9 // strides)


def test_max_pooling1d_and_time_distributed():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 7, 3)).astype(np.float32)
    y = layers.MaxPooling1D(2)(ember.Tensor(x)).data
    np.testing.assert_array_equal(y, x[:, :6].reshape(2, 3, 2, 3).max(2))
    ys = layers.MaxPooling1D(2, padding="same")(ember.Tensor(x)).data
    assert ys.shape == (2, 4, 3) and np.array_equal(ys[:, 3], x[:, 6])
    td = layers.TimeDistributed(layers.Dense(4))
    out = td(ember.Tensor(x))
    k, b = td.layer.get_weights()
    np.testing.assert_allclose(out.data, x @ k + b, atol=1e-5)


def test_sentiment_style_model_trains():
    """Embedding(mask_zero) -> LSTM -> Dense learns a toy 'contains token 1' task."""
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    n = 256
    lens = rng.integers(3, 10, n)
    x = np.zeros((n, 10), np.int64)
    for i, L in enumerate(lens):
        x[i, :L] = rng.integers(2, 8, L)
    y = rng.integers(0, 2, n)
    for i in np.where(y == 1)[0]:
        x[i, rng.integers(0, lens[i])] = 1
    model = models.Sequential([layers.Embedding(8, 8, mask_zero=True), layers.LSTM(16),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y.astype(np.float32), epochs=30, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.9


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="activation must be one of"):
        layers.SimpleRNN(3, activation="sigmoid")
    with pytest.raises(NotImplementedError, match="reset_after"):
        layers.GRU(3, reset_after=False)
    with pytest.raises(ValueError, match="timesteps"):
        layers.LSTM(3)(ember.Tensor(np.zeros((2, 3), np.float32)))
    with pytest.raises(ValueError, match="out of range for input_dim=5"):
        layers.Embedding(5, 2)(ember.Tensor(np.array([[7]])))


def test_summary_and_parameter_counts_match_keras(capsys):
    model = models.Sequential([layers.Embedding(100, 8, mask_zero=True, input_length=12),
                               layers.Bidirectional(layers.LSTM(6)),
                               layers.Dense(2, activation="softmax")])
    model.summary()
    assert "Total params: 1,546" in capsys.readouterr().out   # Keras: 800 + 2 * 360 + 26
    gru = layers.GRU(5)
    gru(ember.Tensor(np.zeros((1, 3, 4), np.float32)))
    assert gru.count_params() == 3 * 5 * (4 + 5) + 2 * 3 * 5       # reset_after: two biases


def test_input_dropout_uses_one_mask_for_all_time_steps():
    ember.manual_seed(0)
    lstm = layers.LSTM(3, dropout=0.5, return_sequences=True)
    x = ember.Tensor(np.ones((4, 6, 5), np.float32), requires_grad=True)
    lstm.train()
    lstm(x).sum().backward()
    g = x.grad.data
    dropped = g == 0
    assert dropped.any() and not dropped.all()
    # a feature dropped at one step of a sequence is dropped at all of them
    np.testing.assert_array_equal(dropped, np.broadcast_to(dropped[:, :1], dropped.shape))
