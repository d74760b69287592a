"""The backward walk copies a gradient before storing it in ``.grad`` only when it is an array
the walk does not own (a root gradient, a pass-through, a view), told by identity, not by a
reused ``id``."""
import numpy as np

import ember
from ember.autograd import engine


def test_a_new_array_with_a_dead_arrays_id_is_not_foreign():
    foreign = {}
    a, b = np.ones(3), np.ones(3)
    engine._mark(foreign, a)
    assert engine._marked(foreign, a)
    foreign[id(b)] = foreign.pop(id(a))  # as if b had been allocated where a died
    assert not engine._marked(foreign, b)


def test_arrays_without_weak_references_are_kept_alive():
    foreign = {}
    s = np.float64(2.0)  # NumPy scalars take no weak reference
    engine._mark(foreign, s)
    assert engine._marked(foreign, s)


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
    leaves' gradients are taken as computed."""
    copies = []
    orig = engine._accumulate

    def spy(t, g, shared):
        copies.append(shared)
        return orig(t, g, shared)

    monkeypatch.setattr(engine, "_accumulate", spy)
    rng = np.random.default_rng(0)
    lin = ember.nn.Linear(30, 5)
    x = ember.tensor(rng.random((8, 30), dtype=np.float32))
    y = ember.tensor(np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)])
    for _ in range(5):
        lin.zero_grad()
        p = ember.nn.functional.softmax(lin(x), -1)
        (-(p.clip(1e-7, 1 - 1e-7).log() * y).sum(-1).mean()).backward()
    assert copies and not any(copies)
