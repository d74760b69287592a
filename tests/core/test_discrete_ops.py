"""Non-differentiable primitives (comparisons, logic, argmax, one-hot) and the batch
norm running-statistics primitive, against PyTorch; their outputs never join the graph."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.conftest import torch_or_skip

R = np.random.default_rng(5)
A = np.round(R.standard_normal((3, 4)) * 2, 1).astype(np.float32)
B = np.round(R.standard_normal((3, 4)) * 2, 1).astype(np.float32)
A[0, 0] = B[0, 0]                                      # a tie for the comparisons
I = R.integers(-5, 6, (3, 4))
J = R.integers(1, 4, (3, 4))

CASES = [
    ("eq", lambda m, a, b: a == b, (A, B)), ("ne", lambda m, a, b: a != b, (A, B)),
    ("lt", lambda m, a, b: a < b, (A, B)), ("le", lambda m, a, b: a <= b, (A, B)),
    ("gt", lambda m, a, b: a > b, (A, B)), ("ge", lambda m, a, b: a >= b, (A, B)),
    ("gt_scalar", lambda m, a: a > 0.3, (A,)),
    ("and", lambda m, a, b: (a > 0) & (b > 0), (A, B)),
    ("or", lambda m, a, b: (a > 0) | (b > 0), (A, B)),
    ("xor", lambda m, a, b: (a > 0) ^ (b > 0), (A, B)), ("not", lambda m, a: ~(a > 0), (A,)),
    ("floordiv", lambda m, a, b: a // b, (I, J)), ("mod", lambda m, a, b: a % b, (I, J)),
    ("isnan", lambda m, a: (a / a).isnan(), (A,)),
    ("isfinite", lambda m, a: (1 / (a - a[0, 0])).isfinite(), (A,)),
    ("any", lambda m, a: (a > 3).any(), (A,)), ("all", lambda m, a: (a > -9).all(), (A,)),
    ("argmax", lambda m, a: a.argmax(), (A,)), ("argmax_dim", lambda m, a: a.argmax(1), (A,)),
    ("argmin_keep", lambda m, a: a.argmin(0, keepdim=True), (A,)),
    ("max_indices", lambda m, a: a.max(1)[1], (A,)),
    ("one_hot", lambda m, a: m.nn.functional.one_hot(a, 5), (np.abs(I) % 5,)),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_against_torch_and_outside_the_graph(name, fn, arrays):
    torch = torch_or_skip()
    ours = fn(ember, *[ember.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays])
    ref = fn(torch, *[torch.tensor(a) for a in arrays])
    assert not ours.requires_grad and ours.grad_fn is None
    np.testing.assert_array_equal(ours.data, ref.numpy())
    assert ours.data.dtype == ref.numpy().dtype


def test_batch_norm_cumulative_average_matches_torch():
    torch = torch_or_skip()
    ours, ref = nn.BatchNorm1d(4, momentum=None), torch.nn.BatchNorm1d(4, momentum=None)
    for k in range(3):
        x = R.standard_normal((6, 4)).astype(np.float32) * (k + 1)
        ours(ember.tensor(x))
        ref(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.data, ref.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.running_var.data, ref.running_var.numpy(), rtol=1e-6)
    assert int(ours.num_batches_tracked.item()) == int(ref.num_batches_tracked) == 3


def test_where_takes_a_mask_tensor_and_masked_fill_keeps_minus_inf():
    x = ember.tensor(A, requires_grad=True)
    y = ember.where(x > 0, x, x * 2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.where(A > 0, 1.0, 2.0))
    z = x.masked_fill(x < 0, -np.inf)
    assert np.isneginf(z.data[A < 0]).all() and (z.data[A >= 0] == A[A >= 0]).all()
    assert F.one_hot(ember.tensor([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
