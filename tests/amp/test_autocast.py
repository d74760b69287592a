"""ember.autocast: which ops run in low precision, which in float32, the gradients, nesting,
and the acceptance run (a float16 autocast MLP on Fashion-MNIST matches float32 accuracy)."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.data import DatasetNotFoundError, load_fashion_mnist

F16 = np.float16


def test_linear_runs_in_float16_with_float32_accumulation():
    lin = nn.Linear(64, 5)
    x = ember.randn(8, 64)
    with ember.autocast("cpu", dtype=ember.float16):
        y = lin(x)
    assert y.dtype == F16
    # the emulated float16 GEMM: float16-rounded inputs, float32 sums, rounded result
    xr, wr, br = (t.detach().numpy().astype(F16).astype(np.float32)
                  for t in (x, lin.weight, lin.bias))
    y = y.detach()
    np.testing.assert_array_equal(y.numpy(), (xr @ wr.T + br).astype(F16))
    # ... which differs from plain float32 by float16 rounding, not more
    ref = lin(x).detach().numpy()
    assert 0 < np.abs(y.numpy() - ref).max() < 1e-2


def test_matmul_and_conv_are_low_precision():
    a, b = ember.randn(3, 4), ember.randn(4, 2)
    conv = nn.Conv2d(2, 3, 3)
    with ember.autocast("cpu", dtype=ember.float16):
        assert (a @ b).dtype == F16
        assert conv(ember.randn(1, 2, 5, 5)).dtype == F16


def test_reductions_and_losses_stay_float32():
    big = ember.full((1000,), 100.0, dtype=ember.float16)
    assert not np.isfinite(big.sum().item())  # 100000 overflows float16 without autocast
    logits = ember.randn(4, 3)
    with ember.autocast("cpu", dtype=ember.float16):
        s = big.sum()
        assert s.dtype == np.float32 and s.item() == 100000.0
        h = nn.Linear(3, 3)(logits)
        assert h.dtype == F16
        assert F.softmax(h, dim=1).dtype == np.float32
        loss = F.cross_entropy(h, ember.tensor([0, 1, 2, 0]))
        assert loss.dtype == np.float32
        assert (h + 1).dtype == F16  # other ops run on what they are given
        assert (h + ember.ones(3)).dtype == np.float32  # NumPy's widest-type promotion


def test_gradients_reach_float32_parameters():
    ember.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = ember.randn(5, 6), ember.tensor([0, 1, 2, 1, 0])
    with ember.autocast("cpu", dtype=ember.float16):
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    grads16 = [p.grad.numpy().copy() for p in model.parameters()]
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for g16, p in zip(grads16, model.parameters()):
        np.testing.assert_allclose(g16, p.grad.numpy(), rtol=2e-2, atol=2e-3)


def test_nested_disable_and_decorator_and_restore():
    a = ember.randn(2, 2)
    with ember.autocast("cpu", dtype=ember.float16):
        with ember.autocast("cpu", enabled=False):
            assert (a @ a).dtype == np.float32
        assert (a @ a).dtype == F16
    assert (a @ a).dtype == np.float32

    @ember.autocast("cpu", dtype=ember.float16)
    def f(t):
        return t @ t
    assert f(a).dtype == F16
    with ember.autocast("cuda", dtype=ember.float16):  # another device type: CPU ops untouched
        assert (a @ a).dtype == np.float32


def test_bad_arguments():
    with pytest.raises(ValueError, match="device_type"):
        ember.autocast("tpu")
    with pytest.raises(ValueError, match="16-bit"):
        ember.autocast("cpu", dtype=ember.float64)


def test_bfloat16_default_on_cpu():
    pytest.importorskip("ml_dtypes")
    a = ember.randn(3, 3)
    with ember.autocast("cpu"):  # PyTorch's CPU default: bfloat16
        out = a @ a
    assert out.dtype == ember.bfloat16
    np.testing.assert_allclose(out.float().numpy(), (a @ a).numpy(), rtol=3e-2, atol=3e-2)


try:
    _DATA = load_fashion_mnist()
except DatasetNotFoundError:
    _DATA = None


def _train_mlp(autocast, n=8000, n_test=5000):
    (x, y), (xt, yt) = _DATA
    x = x[:n].reshape(n, -1).astype(np.float32) / 255
    xt = xt[:n_test].reshape(n_test, -1).astype(np.float32) / 255
    yt = yt[:n_test]
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    scaler = ember.amp.GradScaler(enabled=autocast)
    order = np.random.default_rng(0).permutation(n)
    for i in range(0, n, 100):
        idx = order[i:i + 100]
        xb, yb = ember.tensor(x[idx]), ember.tensor(y[idx].astype(np.int64))
        with ember.autocast("cpu", dtype=ember.float16, enabled=autocast):
            loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    with ember.no_grad(), ember.autocast("cpu", dtype=ember.float16, enabled=autocast):
        pred = model(ember.tensor(xt)).argmax(1).numpy()
    return float((pred == yt).mean())


@pytest.mark.skipif(_DATA is None, reason="Fashion-MNIST not found (apt-get install "
                                          "dataset-fashion-mnist, or set EMBER_DATA)")
def test_float16_autocast_mlp_matches_float32_accuracy_on_fashion_mnist():
    acc32 = _train_mlp(False)
    acc16 = _train_mlp(True)
    assert acc32 > 0.70  # one epoch on 8k images learned (chance is 0.10)
    assert abs(acc16 - acc32) <= 0.01, (acc16, acc32)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the first steps overflow on purpose
def test_autocast_and_grad_scaler_on_the_test_device():
    import ember.testing.fake_device  # noqa: F401
    from ember.testing.device_check import host
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    ember.manual_seed(0)
    base = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    runs = []
    for dev in ("cpu", "fake"):
        import copy
        m = copy.deepcopy(base).to(dev)
        opt = ember.optim.SGD(m.parameters(), lr=0.1)
        scaler = ember.amp.GradScaler(init_scale=2.0 ** 20)
        for _ in range(4):
            with ember.autocast(dev, dtype=ember.float16):
                h = m[0](ember.tensor(x, device=dev))
                assert h.dtype == F16 and h.device.type == dev
                loss = F.cross_entropy(m[2](m[1](h)), ember.tensor(y, device=dev))
                assert loss.dtype == np.float32
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        runs.append((scaler.get_scale(), [host(p) for p in m.parameters()]))
    assert runs[0][0] == runs[1][0] < 2.0 ** 20  # 2**20 overflows float16 grads: skipped
    moved = [np.abs(a - host(p)).max() for a, p in zip(runs[0][1], base.parameters())]
    assert max(moved) > 1e-3  # ... and the later steps, at a lower scale, were taken
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
