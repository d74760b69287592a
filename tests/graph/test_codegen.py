"""The generated replay of @ember.jit: every lowering and every lowered optimizer step gives
the same bits as the primitives' rules (the executor's replay) and the eager optimizer."""
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


def _lowered_source(f):
    entry = next(iter(f._compiled.values()))
    assert entry.fast is not None
    return entry.source


def _params(*mods):
    return [p for m in mods for p in m.parameters()]


@pytest.mark.parametrize("m", [1, 5])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_relu_cross_entropy_lowerings_equal_the_rules(m, bias):
    rng = np.random.default_rng(m)
    ember.manual_seed(0)
    l1, l2 = nn.Linear(6, 7, bias=bias), nn.Linear(7, 3)
    ys = [rng.integers(0, 3, m) for _ in range(3)] + [np.full(m, -100)]  # all ignored: NaN
    if m > 1:
        ys[1][0] = -100  # one ignored row
    calls = [(ember.tensor(rng.standard_normal((m, 6)).astype(np.float32)), ember.tensor(y))
             for y in ys]

    def step(x, y):
        l1.zero_grad()
        l2.zero_grad()
        z = l2(F.relu(l1(x))).reshape(m, 3)
        loss = F.cross_entropy(z, y)
        loss.backward()
        return loss, z

    runs = {}
    for cg in (False, True):
        f = ember.jit(step, codegen=cg)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # compiled, never an eager fallback
            for x, y in calls + calls:  # the first call traces, the second round replays
                loss, z = f(x, y)
                out.append((loss.data, z.data, [p.grad.data.copy() for p in _params(l1, l2)]))
        runs[cg] = out, f
    for a, b in zip(runs[False][0], runs[True][0]):
        _same(a[0], b[0])
        _same(a[1], b[1])
        for ga, gb in zip(a[2], b[2]):
            _same(ga, gb)
    assert np.isnan(runs[True][0][-1][0])  # every target ignored: PyTorch's NaN
    src = _lowered_source(runs[True][1])
    assert ".forward(" not in src and ".backward(" not in src  # every node was lowered


def _train(opt_fn, jit, steps=6):
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = opt_fn(net.parameters())
    rng = np.random.default_rng(1)
    data = [(ember.tensor(rng.standard_normal((4, 5)).astype(np.float32)),
             ember.tensor(rng.integers(0, 3, 4))) for _ in range(steps)]

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    f = ember.jit(step) if jit else step
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses = [f(x, y).data for x, y in data]
    return losses, [p.data.copy() for p in net.parameters()], opt, f


OPTIMIZERS = {
    "sgd": lambda ps: ember.optim.SGD(ps, lr=0.1),
    "sgd-momentum": lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1),
    "sgd-nesterov": lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda ps: ember.optim.RMSprop(ps, lr=0.01),
    "adam": lambda ps: ember.optim.Adam(ps, lr=0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_lowered_optimizer_steps_equal_the_eager_step_bit_for_bit(name):
    le, pe, oe, _ = _train(OPTIMIZERS[name], False)
    lj, pj, oj, f = _train(OPTIMIZERS[name], True)
    for a, b in zip(le + pe, lj + pj):
        _same(a, b)
    src = _lowered_source(f)
    assert ".step()" in src and "else:" in src  # lowered, the eager call only as the fallback
    # state stays the optimizer's own (a checkpoint of the jitted run is the eager one's)
    se, sj = oe.state_dict()["state"], oj.state_dict()["state"]
    for k in se:
        for key, v in se[k].items():
            _same(v, sj[k][key])


@pytest.mark.parametrize("graph_kernels", [False, True])
def test_lowered_rmsprop_takes_the_compiled_update_when_eager_does(monkeypatch, graph_kernels):
    """A layer above the size threshold: eager RMSprop runs the one-pass numba update, so the
    lowered step must give its bits. Without the jit's own kernels it calls that same update
    (the small bias keeps the passes); with them, every 1-D/2-D parameter takes the jit's
    one-pass kernel, whose floats are those of both."""
    kernels = pytest.importorskip("ember.optim._numba_updates")
    from types import SimpleNamespace

    from ember.graph import fused
    from ember.optim import _fused
    calls = []

    def counted(w, *rest):
        calls.append(w.size)
        kernels.rmsprop(w, *rest)

    monkeypatch.setattr(_fused, "_compiled", SimpleNamespace(rmsprop=counted))
    if graph_kernels and fused.kernels() is None:
        pytest.skip("EMBER_KERNELS=numpy: the jit's numba kernels are switched off")
    if not graph_kernels:
        monkeypatch.setattr(fused, "kernels", lambda: None)

    def run(jit):
        ember.manual_seed(0)
        net = nn.Sequential(nn.Linear(160, 64), nn.ReLU(), nn.Linear(64, 3))  # 10240 weights
        opt = ember.optim.RMSprop(net.parameters(), lr=0.01)
        rng = np.random.default_rng(2)
        data = [(ember.tensor(rng.standard_normal((8, 160)).astype(np.float32)),
                 ember.tensor(rng.integers(0, 3, 8))) for _ in range(4)]

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss

        f = ember.jit(step) if jit else step
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            losses = [f(x, y).data for x, y in data]
        return losses, [p.data.copy() for p in net.parameters()], opt, f

    le, pe, oe, _ = run(False)
    assert calls == [160 * 64] * 4  # eager: the compiled pass for the big weight only
    del calls[:]
    lj, pj, oj, f = run(True)
    src = _lowered_source(f)
    if graph_kernels:
        assert calls == [160 * 64]  # the traced (eager) step; the replays run the jit's kernel
        assert src.count(".rmsprop2(") == 2 and src.count(".rmsprop1(") == 2
    else:
        assert calls == [160 * 64] * 4  # the traced step, then three generated replays
        assert ".rmsprop1(" not in src and ".rmsprop2(" not in src
    for a, b in zip(le + pe, lj + pj):
        _same(a, b)
    se, sj = oe.state_dict()["state"], oj.state_dict()["state"]
    for k in se:
        _same(se[k]["square_avg"], sj[k]["square_avg"])


def test_schedulers_and_replaced_state_are_read_live():
    ember.manual_seed(0)
    net = nn.Linear(3, 2)
    opt = ember.optim.SGD(net.parameters(), lr=0.1)
    x, y = ember.ones(2, 3), ember.tensor(np.array([0, 1]))

    @ember.jit
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    step(x, y)
    w0 = net.weight.data.copy()
    opt.param_groups[0]["lr"] = 0.0  # a scheduler's change is seen by the next replay
    step(x, y)
    _same(net.weight.data, w0)
    opt.param_groups[0]["momentum"] = 0.5  # the update's shape changed: the eager step runs
    step(x, y)
    assert "momentum_buffer" in opt.state[net.weight]


def test_a_guard_miss_takes_the_general_path():
    ember.manual_seed(0)
    net = nn.Linear(3, 2)
    f = ember.jit(lambda x: net(x) * 2.0)
    with ember.no_grad():
        a = f(ember.ones(1, 3))
        b = f(ember.ones(1, 3))
        c = f(ember.ones(2, 3))  # a new signature: traced
        d = f(ember.ones(1, 3))  # back to the first: its generated replay
    _same(a.data, b.data)
    _same(d.data, a.data)
    assert c.shape == (2, 2) and len(f._compiled) == 2
    with warnings.catch_warnings(), ember.no_grad():
        warnings.simplefilter("error")
        e = f(ember.ones(1, 3))
    assert e.data is not d.data  # results are fresh arrays, never a reused buffer


def test_a_parameter_changed_behind_the_trace_misses_the_generated_replay():
    ember.manual_seed(0)
    net = nn.Linear(3, 2)
    f = ember.jit(lambda x: net(x))
    x = ember.ones(1, 3)
    with ember.no_grad():
        f(x)
        entry = next(iter(f._compiled.values()))
        from ember.graph.replay import MISS
        assert entry.fast(x) is not MISS
        net.weight.data = net.weight.data.astype(np.float64)  # buffers were sized for float32
        assert entry.fast(x) is MISS


@pytest.mark.parametrize("opt_name", ["Adam", "AdamW"])  # AdamW: the eager step, called
def test_ops_without_a_lowering_run_their_rules_in_the_generated_code(opt_name):
    rng = np.random.default_rng(0)
    data = [(ember.tensor(rng.standard_normal((4, 1, 8, 8)).astype(np.float32)),
             ember.tensor(rng.integers(0, 3, 4))) for _ in range(4)]
    runs = {}
    for mode in ("eager", "jit"):
        ember.manual_seed(0)
        # no conv bias before batch norm: its gradient is 0 up to rounding noise, which Adam
        # would scale up to whole lr-sized steps of either sign
        m = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.2), nn.Linear(36, 3))
        opt = getattr(ember.optim, opt_name)(m.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss

        f = ember.jit(step) if mode == "jit" else step
        ember.manual_seed(3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            losses = [f(x, y).data for x, y in data]
        runs[mode] = losses + [p.data.copy() for p in m.parameters()] + \
            [b.data.copy() for b in m.buffers()], f
    # Float tolerance, not bits: the convolution hands out a channels-last view, and batch norm's
    # parameter gradients are sums over (N, H, W) whose NumPy summation order follows the memory
    # layout, which the replay's buffers need not share with eager (seen: 5e-10 on a bias).
    for a, b in zip(runs["eager"][0], runs["jit"][0]):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    src = _lowered_source(runs["jit"][1])
    assert ".forward(" in src and ".backward(" in src  # conv, batch norm, pooling: their rules


@pytest.mark.parametrize("codegen", [True, False])
def test_replays_keep_eager_dtypes_for_python_numbers_and_integer_division(codegen):
    x = ember.randn(4, 3)
    y = ember.tensor(np.array([0, 1, 2, 0]))
    f = ember.jit(lambda x, y: ((x.argmax(-1) == y).sum() / 4, F.softmax(x, dim=-1) * 2.0),
                  codegen=codegen, passes=())  # no fusion: the rules' own results
    with ember.no_grad():
        want = ((x.argmax(-1) == y).sum() / 4, F.softmax(x, dim=-1) * 2.0)
        for _ in range(3):  # the trace, then replays
            got = f(x, y)
    for a, b in zip(got, want):
        _same(a.data, b.data)  # float32 as eager, not NumPy's float64


@pytest.mark.parametrize("m", [1, 3])
def test_cross_entropy_targets_out_of_range_are_an_error_on_replays_too(m):
    ember.manual_seed(0)
    z = ember.randn(m, 4)
    f = ember.jit(lambda z, y: F.cross_entropy(z, y))
    with ember.no_grad():
        f(z, ember.tensor(np.zeros(m, np.int64)))  # traced (eager checks the targets there)
        for bad in (-1, 4):                        # eager refuses both
            with pytest.raises(IndexError, match=f"target {bad} is out of bounds for 4"):
                f(z, ember.tensor(np.full(m, bad)))
