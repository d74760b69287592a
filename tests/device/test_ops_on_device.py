"""The op suite (tests/core op table) on the test device: same outputs and gradients as on
the CPU, and results that stay on the device."""
import numpy as np
import pytest

import ember
from ember.testing.device_check import compare_fn
from tests.core.test_edges_vs_torch import CASES as EDGE_CASES
from tests.core.test_ops_grad import CASES


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_op_matches_cpu(name, fn, arrays, device):
    compare_fn(fn, arrays, device, dtype=np.float64, rtol=1e-10, atol=1e-12)


EXTRA = [  # ops reached through other Tensor methods and functions
    ("getitem_int_array", lambda m, a: a[[0, 2, 0]], [np.arange(12.0).reshape(4, 3)]),
    ("getitem_bool_mask", lambda m, a: a[a > 5], [np.arange(12.0).reshape(4, 3)]),
    ("getitem_slice_int", lambda m, a: a[1:, 2], [np.arange(12.0).reshape(4, 3)]),
    ("masked_fill", lambda m, a: a.masked_fill(a > 3, -1.0) * a, [np.arange(6.0)]),
    ("cat_stack", lambda m, a, b: m.cat([a, m.stack([b, b])[0]], 0),
     [np.ones((2, 3)), np.arange(3.0).reshape(1, 3)]),
    ("split_chunk", lambda m, a: a.split(2, 1)[1] * a.chunk(2, 1)[0], [np.arange(8.0).reshape(2, 4)]),
    ("max_dim_values", lambda m, a: a.max(1).values, [np.array([[1.0, 3.0], [4.0, 2.0]])]),
    ("where_fn", lambda m, a, b: m.where(a > b, a, b), [np.array([1.0, 5.0]), np.array([2.0, 3.0])]),
    ("softmax_ce", lambda m, a: m.nn.functional.cross_entropy(a, m.tensor([0, 2], device=a.device)),
     [np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]])]),
    ("mse", lambda m, a, b: m.nn.functional.mse_loss(a, b), [np.ones((2, 2)), np.eye(2)]),
    ("bce_logits", lambda m, a, b: m.nn.functional.binary_cross_entropy_with_logits(a, b),
     [np.array([0.3, -1.0]), np.array([1.0, 0.0])]),
]


@pytest.mark.parametrize("name,fn,arrays", EXTRA, ids=[c[0] for c in EXTRA])
def test_more_ops_match_cpu(name, fn, arrays, device):
    compare_fn(fn, arrays, device, dtype=np.float64, rtol=1e-10, atol=1e-12)


def test_non_differentiable_methods_stay_on_device(device):
    x = ember.tensor([[1.5, -2.0], [0.0, 3.0]], device=device)
    for out in (x.sign(), x.floor(), x.round(), x.isnan(), x.isfinite(), x > 0, x == 0,
                x.argmax(1), x.argmin(), x.any(), x.all(), x.abs().sqrt(), x.max(1).indices):
        assert out.device == x.device
    assert x.argmax().item() == 3 and x.sum().item() == 2.5
    assert x.tolist() == [[1.5, -2.0], [0.0, 3.0]]
    assert "device='fake:0'" in repr(x) if device == "fake" else True


def _run_edge(fn, inputs, nograd, dev):
    import warnings
    from ember.testing.device_check import host
    grads = [a.dtype.kind == "f" and i not in nograd for i, a in enumerate(inputs)]
    ts = [ember.tensor(a.copy(), device=dev, requires_grad=g) for a, g in zip(inputs, grads)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(ember, *ts)
        g = np.random.default_rng(0).uniform(0.5, 1.5, tuple(out.shape)).astype(inputs[0].dtype)
        out.backward(ember.tensor(g, device=dev))
    assert out.device.type == ember.device(dev).type
    return host(out), [host(t.grad) if t.grad is not None else None for t in ts]


@pytest.mark.parametrize("fn,inputs,nograd,warns", EDGE_CASES)
def test_edge_cases_match_cpu(fn, inputs, nograd, warns, device):
    """The edge sweep (zeros, infinities, ties, empty reductions) gives the same values,
    NaNs and gradients on the device as on the CPU."""
    ref, ref_g = _run_edge(fn, inputs, nograd, "cpu")
    out, out_g = _run_edge(fn, inputs, nograd, device)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-300, equal_nan=True)
    for a, b in zip(out_g, ref_g):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300, equal_nan=True)
