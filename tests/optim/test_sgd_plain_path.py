"""SGD's lean path (no momentum, no weight decay, not maximizing) keeps the general path's
behaviour: the same bits, every shape checked before any parameter changes, version counter
bumped, gradients that are plain arrays, mixed dtypes in one group."""
import numpy as np
import pytest

import ember


def _params(rng, shapes, dtype=np.float32):
    return [ember.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
            for s in shapes]


def test_plain_step_bits_and_version_counter():
    rng = np.random.default_rng(0)
    ps = _params(rng, [(16, 16), (16,), (2, 16), (2,)]) + _params(rng, [(3,)], np.float64)
    before = [p.data.copy() for p in ps]
    grads = [rng.standard_normal(p.shape).astype(p.data.dtype) for p in ps]
    for p, g in zip(ps, grads):
        p.grad = ember.tensor(g)
    ps[1].grad = None  # no gradient: left alone
    ps[2].grad = grads[2]  # a plain array as the gradient
    versions = [p._version for p in ps]
    ember.optim.SGD(ps, lr=0.01).step()
    for i, (p, p0, g) in enumerate(zip(ps, before, grads)):
        want = p0 if i == 1 else p0 + np.multiply(g, np.asarray(-0.01, g.dtype))
        assert p.data.dtype == p0.dtype and p.data.tobytes() == want.tobytes()
        assert p._version == versions[i] + (i != 1)


def test_shape_mismatch_raises_before_any_update():
    rng = np.random.default_rng(1)
    ps = _params(rng, [(4,), (2, 3)])
    before = [p.data.copy() for p in ps]
    ps[0].grad = ember.tensor(np.ones(4, np.float32))
    ps[1].grad = ember.tensor(np.ones(3, np.float32))  # would broadcast: must be refused
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3,\) for a parameter of shape"):
        ember.optim.SGD(ps, lr=0.1).step()
    for p, p0 in zip(ps, before):
        assert p.data.tobytes() == p0.tobytes()


@pytest.mark.parametrize("lr", [1, np.float32(0.5), 0.0])
def test_other_lr_types_take_the_general_path_with_the_same_floats(lr):
    p0 = np.linspace(-1, 1, 7, dtype=np.float32)
    g = np.linspace(2, -3, 7, dtype=np.float32)
    p = ember.tensor(p0.copy(), requires_grad=True)
    p.grad = ember.tensor(g.copy())
    ember.optim.SGD([p], lr=lr).step()
    alpha = -lr
    want = p0 + np.multiply(g, np.asarray(alpha, np.float32) if isinstance(alpha, float)
                            else alpha)
    assert p.data.tobytes() == want.tobytes()
