"""The backward walk copies a gradient before storing it in ``.grad`` only when it is an array
the walk does not own (a root gradient, a pass-through, a view), marked per leaf during the
walk, never by a reused ``id``."""
import numpy as np

import ember
from ember.autograd import engine


def test_pass_through_and_root_gradients_still_copied():
    w = ember.tensor(np.ones(4), requires_grad=True)
    v = ember.tensor(np.ones(4), requires_grad=True)
    root = np.full(4, 3.0)
    (w + v).backward(ember.tensor(root))  # Add passes the root gradient to both
    assert w.grad.data is not root and v.grad.data is not root
    assert w.grad.data is not v.grad.data
    w.grad.data += 1  # one leaf's in-place accumulation must not reach the other
    assert np.array_equal(v.grad.data, root) and np.array_equal(root, np.full(4, 3.0))


def test_weight_gradients_of_a_probability_loss_are_not_copied(monkeypatch):
    """The Keras loss path (views from Mean/Sum backward, then fresh matmul gradients): the
    leaves' gradients are taken as computed: ``.grad`` holds the very arrays the Linear rule
    returned."""
    from ember.ops.nn_layers import Linear
    returned = []
    orig = Linear.backward

    def spy(ctx, g):
        out = orig(ctx, g)
        returned.append(out)
        return out

    monkeypatch.setattr(Linear, "backward", staticmethod(spy))
    rng = np.random.default_rng(0)
    lin = ember.nn.Linear(30, 5)
    x = ember.tensor(rng.random((8, 30), dtype=np.float32))
    y = ember.tensor(np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)])
    for _ in range(5):
        lin.zero_grad()
        returned.clear()
        p = ember.nn.functional.softmax(lin(x), -1)
        (-(p.clip(1e-7, 1 - 1e-7).log() * y).sum(-1).mean()).backward()
        (_, gw, gb), = returned
        assert lin.weight.grad.data is gw and lin.bias.grad.data is gb
