"""ember.keras against Keras's documented rules: optimizer updates written out in NumPy, loss
classes with from_logits, model-level get_weights / set_weights."""
import math

import numpy as np
import pytest

import ember
from ember.keras import layers, losses, models, optimizers
from ember.nn.parameter import Parameter

STEPS = 6


def _grads(shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(STEPS)]


def _run(spec, w0, grads, lr_change=None):
    p = Parameter(w0.copy())
    opt = spec.build([p])
    out = []
    for t, g in enumerate(grads):
        if lr_change is not None and t == lr_change[0]:
            opt.param_groups[0]["lr"] = lr_change[1]
        p.grad = ember.tensor(g)
        opt.step()
        out.append(p.data.copy())
    return out


def _ref_rmsprop(w, grads, lr, rho, eps, momentum=0.0, centered=False):
    s, a, b, out = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w), []
    for g in grads:
        s = rho * s + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            inc = lr * g / np.sqrt(s - a * a + eps)
        else:
            inc = lr * g / np.sqrt(s + eps)
        if momentum:
            b = momentum * b + inc
            w = w - b
        else:
            w = w - inc
        out.append(w)
    return out


def _ref_adam(w, grads, lr, b1, b2, eps, amsgrad=False, wd=0.0):
    m, v, vmax, out = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w), []
    for t, g in enumerate(grads, 1):
        w = w - lr * wd * w
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * (g * g - v)
        vv = v
        if amsgrad:
            vmax = np.maximum(vmax, v)
            vv = vmax
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - alpha * m / (np.sqrt(vv) + eps)
        out.append(w)
    return out


def _ref_sgd(w, grads, lrs, momentum, nesterov):
    v, out = np.zeros_like(w), []
    for g, lr in zip(grads, lrs):
        v = momentum * v - lr * g
        w = w + (momentum * v - lr * g if nesterov else v)
        out.append(w)
    return out


W0 = np.random.default_rng(1).standard_normal((3, 4))


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.5, False), (0.0, True)])
def test_rmsprop_divides_by_sqrt_of_v_plus_eps(momentum, centered):
    # a large eps makes sqrt(v + eps) and sqrt(v) + eps far apart
    g = [0.01 * x for x in _grads(W0.shape)]
    got = _run(optimizers.RMSprop(learning_rate=0.01, rho=0.8, epsilon=1e-3, momentum=momentum,
                                  centered=centered), W0, g)
    want = _ref_rmsprop(W0, g, 0.01, 0.8, 1e-3, momentum, centered)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # PyTorch's form (ember.optim) differs measurably with this eps: the test can fail
    torch_form = W0 - 0.01 * g[0] / (np.sqrt(0.2 * g[0] ** 2) + 1e-3)
    if not momentum and not centered:
        assert np.abs(got[0] - torch_form).max() > 1e-4


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_epsilon_hat_on_uncorrected_sqrt_v(amsgrad):
    g = [0.01 * x for x in _grads(W0.shape, 2)]
    got = _run(optimizers.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.9, epsilon=1e-3,
                               amsgrad=amsgrad), W0, g)
    want = _ref_adam(W0, g, 0.01, 0.8, 0.9, 1e-3, amsgrad)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_adamw_decays_decoupled_before_the_update():
    g = _grads(W0.shape, 3)
    got = _run(optimizers.AdamW(learning_rate=0.01, weight_decay=0.1), W0, g)
    want = _ref_adam(W0, g, 0.01, 0.9, 0.999, 1e-7, wd=0.1)
    np.testing.assert_allclose(got[-1], want[-1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_velocity_holds_minus_lr_g(nesterov):
    g = _grads(W0.shape, 4)
    # change the lr mid-run: Keras's velocity keeps the old lr's terms (PyTorch's would not)
    got = _run(optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=nesterov), W0, g,
               lr_change=(3, 0.01))
    want = _ref_sgd(W0, g, [0.1] * 3 + [0.01] * 3, 0.9, nesterov)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_adagrad_adadelta_nadam_formulas():
    g = _grads(W0.shape, 5)
    got = _run(optimizers.Adagrad(learning_rate=0.1), W0, g)
    w, acc = W0.copy(), np.full_like(W0, 0.1)
    for gi in g:
        acc = acc + gi * gi
        w = w - 0.1 * gi / np.sqrt(acc + 1e-7)
    np.testing.assert_allclose(got[-1], w, rtol=1e-10)

    got = _run(optimizers.Adadelta(learning_rate=1.0, rho=0.9), W0, g)
    w, a, u = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for gi in g:
        a = 0.9 * a + 0.1 * gi * gi
        d = -np.sqrt(u + 1e-7) / np.sqrt(a + 1e-7) * gi
        u = 0.9 * u + 0.1 * d * d
        w = w + d
    np.testing.assert_allclose(got[-1], w, rtol=1e-10)

    got = _run(optimizers.Nadam(learning_rate=0.01), W0, g)
    w, m, v, prod = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), 1.0
    b1, b2 = 0.9, 0.999
    for t, gi in enumerate(g, 1):
        mu, mu1 = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        prod *= mu
        m = m + (1 - b1) * (gi - m)
        v = v + (1 - b2) * (gi * gi - v)
        mh = mu1 * m / (1 - prod * mu1) + (1 - mu) * gi / (1 - prod)
        w = w - 0.01 * mh / (np.sqrt(v / (1 - b2 ** t)) + 1e-7)
    np.testing.assert_allclose(got[-1], w, rtol=1e-10)


def test_keras_optimizer_state_round_trips_through_a_checkpoint(tmp_path):
    m = models.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)),
                           layers.Dense(2, activation="softmax")])
    m.compile(optimizer=optimizers.RMSprop(momentum=0.5), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    y = np.arange(16) % 2
    m.fit(x, y, epochs=1, verbose=0)
    m.save(tmp_path / "k.safetensors")
    m2 = models.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)),
                            layers.Dense(2, activation="softmax")])
    m2.compile(optimizer=optimizers.RMSprop(momentum=0.5), loss="sparse_categorical_crossentropy")
    m2.load(tmp_path / "k.safetensors")
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    m.train_on_batch(x, y)
    m2.train_on_batch(x, y)
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _model():
    return models.Sequential([layers.Dense(5, activation="relu", input_shape=(3,)),
                              layers.Dense(4)])


def test_sequential_get_and_set_weights():
    a, b = _model(), _model()
    ws = a.get_weights()
    assert [w.shape for w in ws] == [(3, 5), (5,), (5, 4), (4,)]  # Keras layouts, in order
    b.set_weights(ws)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(a.predict(x), b.predict(x), rtol=1e-6)
    ws[0][...] = 0  # copies: editing them does not touch the model
    assert a.get_weights()[0].any()
    before = b.get_weights()
    bad = [w.copy() for w in ws]
    bad[2] = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"\(5, 4\)"):
        b.set_weights(bad)
    for w0, w1 in zip(before, b.get_weights()):  # nothing changed, not even the first layer
        np.testing.assert_array_equal(w0, w1)
    with pytest.raises(ValueError, match="4 weights"):
        b.set_weights(ws[:3])


def test_loss_classes_with_from_logits():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 1, 0])
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    want = -np.log(p[np.arange(6), y]).mean()
    got = losses.SparseCategoricalCrossentropy(from_logits=True)(y, z)
    np.testing.assert_allclose(float(got.data), want, rtol=1e-5)
    got = losses.SparseCategoricalCrossentropy()(y, p)
    np.testing.assert_allclose(float(got.data), want, rtol=1e-5)
    onehot = np.eye(4, dtype=np.float32)[y]
    got = losses.CategoricalCrossentropy(from_logits=True)(onehot, z)
    np.testing.assert_allclose(float(got.data), want, rtol=1e-5)
    zb = rng.standard_normal((6, 1)).astype(np.float32)
    yb = (rng.random((6, 1)) > 0.5).astype(np.float32)
    s = 1 / (1 + np.exp(-zb))
    wantb = -(yb * np.log(s) + (1 - yb) * np.log(1 - s)).mean()
    got = losses.BinaryCrossentropy(from_logits=True)(yb, zb)
    np.testing.assert_allclose(float(got.data), wantb, rtol=1e-5)


def test_compile_with_a_from_logits_loss_trains_and_does_not_warn(recwarn):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    m = _model()
    m.compile(optimizer=optimizers.Adam(learning_rate=0.05),
              loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    h = m.fit(x, y, epochs=10, verbose=0, batch_size=16)
    assert h.history["accuracy"][-1] > 0.9
    assert not [w for w in recwarn if "probabilities" in str(w.message)]
