"""The fused lowerings of the MLP step (bias + ReLU in place, ReLU backward with the bias
gradient's sums, the cross-entropy, the one-pass RMSprop): both the numba kernels and the NumPy
path give the eager rules' bits, signed zeros included, and the replay makes no hidden copy."""
import tracemalloc
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.graph import fused
from ember.nn import functional as F


def _bits(a, b):
    """Same dtype, shape and bytes (-0.0 is not +0.0; NaNs compared by their payload)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), np.argwhere(a.view(np.uint8) != b.view(np.uint8))[:5]


@pytest.fixture(params=["numba", "numpy"])
def path(request, monkeypatch):
    """Run the test with the numba kernels (skipped without numba) and with NumPy calls only."""
    if request.param == "numba":
        pytest.importorskip("ember.graph._numba_fused")
        if fused.kernels() is None:
            pytest.skip("EMBER_KERNELS=numpy: the numba kernels are switched off")
    else:
        monkeypatch.setattr(fused, "kernels", lambda: None)
    return request.param


def _special(rng, shape, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    flat = a.reshape(-1)
    k = min(flat.size, 8)
    flat[:k] = np.array([-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, -1.0, 1.0], dtype)[:k]
    rng.shuffle(flat)
    return a


# ---- the kernels against the NumPy calls they replace ------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (37, 129), (128, 512)])
def test_relu_kernels_are_the_numpy_calls_bit_for_bit(dtype, shape):
    K = pytest.importorskip("ember.graph._numba_fused")
    rng = np.random.default_rng(shape[1])
    y, b = _special(rng, shape, dtype), _special(rng, shape[1:], dtype)
    want = np.maximum(y + b, dtype(0))
    got = y.copy()
    K.bias_relu(got, b)
    _bits(got, want)
    got = y.copy()
    K.relu(got)
    _bits(got, np.maximum(y, dtype(0)))
    g = _special(rng, shape, dtype)
    want = np.multiply(g, want > 0, dtype=dtype)
    got = g.copy()
    K.relu_grad(got, y + b)
    _bits(got, np.multiply(g, (y + b) > 0, dtype=dtype))
    got, gb = g.copy(), np.empty(shape[1], dtype)
    K.relu_grad_colsum(got, np.maximum(y + b, dtype(0)), gb)
    _bits(got, want)
    _bits(gb, np.add.reduce(want, 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sums_are_numpys(dtype):
    K = pytest.importorskip("ember.graph._numba_fused")
    rng = np.random.default_rng(0)
    for n in list(range(0, 140)) + [255, 256, 257, 1000, 5003]:
        a = (rng.standard_normal(n) * np.exp(3 * rng.standard_normal(n))).astype(dtype)
        _bits(dtype(0) + K._pairwise(a, 0, n), np.add.reduce(a))
    for shape in [(128, 10), (5, 3), (4, 300), (2, 1)]:
        e = (rng.standard_normal(shape) * 1e3).astype(dtype)
        out = np.empty((shape[0], 1), dtype)
        K.row_sums(e, out)
        _bits(out, np.add.reduce(e, 1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(512,), (10,), (64, 160), (3, 1)])
def test_rmsprop_kernels_are_the_eager_passes_bit_for_bit(dtype, shape):
    K = pytest.importorskip("ember.graph._numba_fused")
    rng = np.random.default_rng(1)
    w, g = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    s = np.abs(rng.standard_normal(shape)).astype(dtype)
    g.reshape(-1)[0] = 0.0  # 0 / (0 + eps)
    lr, alpha, eps = 1e-3, 0.99, 1e-8
    # the eager step's NumPy passes (ember.optim.rmsprop), as written there
    we, se, b = w.copy(), s.copy(), np.empty_like(w)
    np.multiply(g, g, out=b)
    np.multiply(se, alpha, out=se)
    np.multiply(b, 1 - alpha, out=b)
    np.add(se, b, out=se)
    np.sqrt(se, out=b)
    b += eps
    np.divide(g, b, out=b)
    np.multiply(b, -lr, out=b)
    np.add(we, b, out=we)
    c = np.dtype(dtype).type
    wk, sk = w.copy(), s.copy()
    getattr(K, f"rmsprop{len(shape)}")(wk, g, sk, c(alpha), c(1 - alpha), c(eps), c(-lr))
    _bits(wk, we)
    _bits(sk, se)


# ---- the lowered step against eager -------------------------------------------------------
def _mlp(dtype, bias=True):
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 16, bias=bias), nn.ReLU(), nn.Linear(16, 5, bias=bias))
    if dtype == np.float64:
        net = net.double()
    if dtype == np.float16:
        net = net.half()
    return net


def _batches(rng, m, dtype, steps):
    out = []
    for k in range(steps):
        x = rng.standard_normal((m, 12)).astype(dtype)
        y = rng.integers(0, 5, m)
        if k == 1 and m > 1:
            y[0] = -100            # an ignored row: the general code
        if k == 2:
            x[:] = 0               # zero logits (no bias): a row max of 0
        if k == 3:
            x[0, 0] = np.inf       # a non-finite logit: NaN loss, the general code's fix
        out.append((ember.tensor(x), ember.tensor(y)))
    return out


def _run(net, opt, batches, jit, fetch_logits):
    def step(x, y):
        opt.zero_grad()
        z = net(x)
        loss = F.cross_entropy(z, y)
        loss.backward()
        opt.step()
        return (loss, z) if fetch_logits else loss

    f = ember.jit(step) if jit else step
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # compiled, never an eager fallback
        warnings.simplefilter("ignore", RuntimeWarning)  # the inf batch's invalid values
        for x, y in batches + batches[:1]:
            r = f(x, y)
            r = r if fetch_logits else (r,)
            out.append([t.data.copy() for t in r] + [p.grad.data.copy() for p in
                                                     net.parameters()])
    return out, [p.data.copy() for p in net.parameters()], f


@pytest.mark.parametrize("m", [1, 6])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("fetch_logits", [False, True])
def test_lowered_mlp_training_equals_eager_bit_for_bit(path, m, dtype, bias, fetch_logits):
    rng = np.random.default_rng(m)
    batches = _batches(rng, m, dtype, 5)
    runs = {}
    for jit in (False, True):
        net = _mlp(dtype, bias)
        opt = ember.optim.RMSprop(net.parameters(), lr=1e-2)
        runs[jit] = _run(net, opt, batches, jit, fetch_logits)
    (ae, pe, _), (aj, pj, f) = runs[False], runs[True]
    for step_e, step_j in zip(ae, aj):
        for a, b in zip(step_e, step_j):
            if np.isnan(a).any():  # the non-finite batch: NaN where eager has NaN
                np.testing.assert_array_equal(a, b)
            else:
                _bits(a, b)
    for a, b in zip(pe, pj):
        np.testing.assert_array_equal(a, b)  # NaN parameters after the inf batch
    src = next(iter(f._compiled.values())).source
    assert ".forward(" not in src and ".backward(" not in src  # every node lowered
    if path == "numba" and m > 1 and dtype != np.float16:  # float16: NumPy calls only
        assert ".rmsprop2(" in src and ".ce_grad" in src
        if bias:
            assert ".bias_relu(" in src and ".relu_grad_colsum(" in src
            assert ".ce_bias_shift(" in src and ".ce_grad_colsum(" in src
    if path == "numpy":
        assert "KF" not in src


def test_in_place_relu_only_when_nothing_else_reads_the_input(path):
    """The pre-activation is also read by a second loss term: the ReLU must not overwrite it.
    Against eager, bit for bit: h's three gradient terms (ReLU's, and h * h's two) are summed
    in the eager engine's order (``autodiff._engine_order``)."""
    rng = np.random.default_rng(0)
    data = [(ember.tensor(rng.standard_normal((4, 12)).astype(np.float32)),
             ember.tensor(rng.integers(0, 5, 4))) for _ in range(3)]
    runs = {}
    for jit in (False, True):
        net = _mlp(np.float32)
        opt = ember.optim.SGD(net.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            h = net[0](x)
            loss = F.cross_entropy(net[2](F.relu(h)), y) + (h * h).mean()
            loss.backward()
            opt.step()
            return loss

        f = ember.jit(step) if jit else step
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            runs[jit] = [[f(x, y).data.copy()] + [p.grad.data.copy() for p in
                                                     net.parameters()] for x, y in data + data]
    for a, b in zip(runs[False], runs[True]):
        for u, v in zip(a, b):
            _bits(u, v)
    src = next(iter(f._compiled.values())).source
    assert ".bias_relu(" not in src and "maximum(B" in src  # read twice: not in place
    assert ".forward(" in src  # (h * h).mean() runs its rules


def test_the_replay_makes_no_hidden_copy_and_allocates_only_what_it_hands_out(path):
    """matmul(x, w.T, out=...) and friends read the transposed views as they are: one replay
    allocates the gradients it hands to ``.grad`` (fresh arrays) and a few small objects, no
    copy of a weight and no per-step temporary of the batch's size."""
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(300, 200), nn.ReLU(), nn.Linear(200, 10))
    opt = ember.optim.RMSprop(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((64, 300)).astype(np.float32))
    y = ember.tensor(rng.integers(0, 10, 64))

    @ember.jit
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step(x, y)
    grads = sum(p.data.nbytes for p in net.parameters())
    tracemalloc.start()
    try:
        step(x, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the previous step's gradients are freed as the new ones are made (zero_grad): at most
    # the handed-out gradients, plus small change (tensors, 0-d arrays, views)
    assert peak < grads + 16384, (peak, grads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_one_pass_optimizer_kernels_equal_the_eager_step(path, name, dtype):
    make = {"sgd": lambda ps: ember.optim.SGD(ps, lr=0.1),
            "adam": lambda ps: ember.optim.Adam(ps, lr=1e-2),
            "rmsprop": lambda ps: ember.optim.RMSprop(ps, lr=1e-2)}[name]
    rng = np.random.default_rng(3)
    batches = [(ember.tensor(rng.standard_normal((6, 12)).astype(dtype)),
                ember.tensor(rng.integers(0, 5, 6))) for _ in range(4)]
    runs = {}
    for jit in (False, True):
        net = _mlp(dtype)
        opt = make(net.parameters())
        runs[jit] = _run(net, opt, batches, jit, False) + (opt,)
    for a, b in zip(runs[False][0] + runs[False][1], runs[True][0] + runs[True][1]):
        for u, v in zip(a, b) if isinstance(a, list) else [(a, b)]:
            _bits(u, v)
    se, sj = runs[False][3].state_dict()["state"], runs[True][3].state_dict()["state"]
    for k in se:
        for key, val in se[k].items():
            _bits(val, sj[k][key])
    src = next(iter(runs[True][2]._compiled.values())).source
    kernel = {"sgd": ".sgd2(", "adam": ".adam2(", "rmsprop": ".rmsprop2("}[name]
    assert (kernel in src) == (path == "numba")


def test_the_kernel_switch(monkeypatch):
    monkeypatch.setenv("EMBER_KERNELS", "numpy")
    assert fused.kernels() is None
    monkeypatch.setenv("EMBER_KERNELS", "fortran")
    with pytest.raises(ValueError, match="EMBER_KERNELS='fortran'"):
        fused.kernels()
    monkeypatch.delenv("EMBER_KERNELS")
    try:
        import numba  # noqa: F401
    except ImportError:
        assert fused.kernels() is None  # the NumPy calls, the default without numba
    else:
        assert fused.kernels().__name__ == "ember.graph._numba_fused"
