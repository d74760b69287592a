"""SGD gives parameters under ``_fused.SMALL`` elements a fresh temporary instead of a scratch
buffer: the update is the same two float operations (``p + (-lr) * g``, each rounded to the
parameter's dtype) on either side of the threshold, with and without momentum."""
import numpy as np
import pytest

import ember
from ember.optim import _fused


@pytest.mark.parametrize("n", [3, _fused.SMALL - 1, _fused.SMALL, _fused.SMALL + 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_update_bits_either_side_of_the_threshold(n, dtype):
    rng = np.random.default_rng(n)
    p0 = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    p = ember.tensor(p0.copy(), requires_grad=True)
    p.grad = ember.tensor(g.copy())
    ember.optim.SGD([p], lr=0.01).step()
    want = p0 + np.multiply(g, np.asarray(-0.01, dtype))
    assert p.data.dtype == dtype and p.data.tobytes() == want.tobytes()
    q = ember.tensor(p0.copy(), requires_grad=True)
    opt = ember.optim.SGD([q], lr=0.01, momentum=0.9, nesterov=True)
    q.grad = ember.tensor(g.copy())
    opt.step()  # buf = g; p += -lr * g; p += -lr * mom * buf
    step1 = p0 + np.multiply(g, np.asarray(-0.01, dtype))
    step1 = step1 + np.multiply(g, np.asarray(-0.01 * 0.9, dtype))
    assert q.data.tobytes() == step1.tobytes()
