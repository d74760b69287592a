"""ExponentialMovingAverage and average_checkpoints."""
import numpy as np
import pytest

import ember
from ember import optim


def _params():
    rng = np.random.default_rng(0)
    return [ember.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True),
            ember.tensor(rng.standard_normal(4), requires_grad=True)]


def test_ema_equals_closed_form():
    ps = _params()
    decay = 0.9
    ema = optim.ExponentialMovingAverage(ps, decay=decay)
    history = [[p.data.copy() for p in ps]]
    rng = np.random.default_rng(1)
    for _ in range(20):
        for p in ps:
            p.data += rng.standard_normal(p.data.shape).astype(p.data.dtype)
        history.append([p.data.copy() for p in ps])
        ema.update()
    n = len(history) - 1
    for i, s in enumerate(ema.shadow):
        # s_n = d^n x_0 + sum_k (1 - d) d^(n-k) x_k
        expect = decay ** n * history[0][i].astype(np.float64)
        for k in range(1, n + 1):
            expect += (1 - decay) * decay ** (n - k) * history[k][i]
        tol = 1e-5 if s.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(s, expect, atol=tol)
        assert s.dtype == ps[i].data.dtype


def test_ema_num_updates_warmup():
    p = ember.tensor(np.zeros(2), requires_grad=True)
    ema = optim.ExponentialMovingAverage([p], decay=0.999, use_num_updates=True)
    p.data[:] = 1.0
    ema.update()  # decay = min(0.999, 2/11)
    np.testing.assert_allclose(ema.shadow[0], 1 - 2 / 11)


def test_swap_and_context_restore_exactly():
    ps = _params()
    ema = optim.ExponentialMovingAverage(ps, decay=0.5)
    originals = [p.data.copy() for p in ps]
    for p in ps:
        p.data *= 3.0
    current = [p.data.copy() for p in ps]
    ema.update()
    avg = [s.copy() for s in ema.shadow]
    ids = [id(p.data) for p in ps]
    with ema.average_parameters():
        for p, a in zip(ps, avg):
            np.testing.assert_array_equal(p.data, a)
    for p, c in zip(ps, current):
        np.testing.assert_array_equal(p.data, c)  # bit-exact restore
    assert [id(p.data) for p in ps] == ids  # in place: references to p.data stay valid
    with pytest.raises(KeyError):
        with ema.average_parameters():
            raise KeyError("boom")
    for p, c in zip(ps, current):
        np.testing.assert_array_equal(p.data, c)
    ema.swap()
    ema.swap()
    for p, c in zip(ps, current):
        np.testing.assert_array_equal(p.data, c)
    np.testing.assert_allclose(avg[1], 0.5 * originals[1] + 0.5 * current[1])


def test_ema_accepts_module_like_and_state_dict():
    ps = _params()

    class Net:
        def parameters(self):
            return iter(ps)

    ema = optim.ExponentialMovingAverage(Net(), decay=0.8)
    ps[0].data += 1
    ema.update()
    sd = ema.state_dict()
    other = optim.ExponentialMovingAverage(_params(), decay=0.1)
    other.load_state_dict(sd)
    assert other.decay == 0.8
    np.testing.assert_array_equal(other.shadow[0], ema.shadow[0])
    with pytest.raises(ValueError, match="decay"):
        optim.ExponentialMovingAverage(ps, decay=1.5)
    with pytest.raises(ValueError, match="shape"):
        optim.ExponentialMovingAverage([ps[1], ps[0]]).load_state_dict(sd)


def test_average_checkpoints():
    rng = np.random.default_rng(2)
    sds = [{"fc.weight": ember.tensor(rng.standard_normal((2, 3)).astype(np.float32)),
            "fc.bias": rng.standard_normal(3),
            "bn.num_batches_tracked": np.array(k, dtype=np.int64),
            "nested": {"w": ember.tensor(np.full(2, float(k)))}} for k in range(1, 4)]
    avg = optim.average_checkpoints(sds)
    assert isinstance(avg["fc.weight"], ember.Tensor) and avg["fc.weight"].dtype == np.float32
    np.testing.assert_allclose(avg["fc.weight"].data,
                               np.mean([s["fc.weight"].data for s in sds], axis=0), atol=1e-7)
    np.testing.assert_allclose(avg["fc.bias"], np.mean([s["fc.bias"] for s in sds], axis=0),
                               atol=1e-15)
    assert int(avg["bn.num_batches_tracked"]) == 3
    np.testing.assert_array_equal(avg["nested"]["w"].data, [2.0, 2.0])
    with pytest.raises(ValueError, match="keys"):
        optim.average_checkpoints([sds[0], {"fc.weight": sds[1]["fc.weight"]}])
    bad = dict(sds[1], **{"fc.bias": np.zeros(4)})
    with pytest.raises(ValueError, match="shape"):
        optim.average_checkpoints([sds[0], bad])
    with pytest.raises(ValueError, match="at least one"):
        optim.average_checkpoints([])
