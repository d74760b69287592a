"""Tensor creation, dtypes, conversion, non-differentiable ops, indexing and function forms."""
import numpy as np
import pytest

import ember


def test_default_dtypes():
    assert ember.tensor([1.0, 2.0]).dtype == np.float32
    assert ember.tensor([1, 2]).dtype == np.int64
    assert ember.tensor([True, False]).dtype == np.bool_
    assert ember.tensor(np.zeros(2)).dtype == np.float64  # NumPy arrays keep their dtype
    assert ember.tensor([1, 2], dtype=ember.float64).dtype == np.float64
    assert ember.zeros(2, 3).dtype == np.float32
    assert ember.arange(5).dtype == np.int64
    assert ember.arange(0, 1, 0.25).dtype == np.float32
    assert (ember.ones(2) * 2.0).dtype == np.float32  # Python scalars don't promote


def test_creation_functions():
    assert ember.zeros(2, 3).shape == (2, 3)
    assert ember.ones((2, 3)).tolist() == [[1, 1, 1], [1, 1, 1]]
    assert ember.full((2,), 7).tolist() == [7, 7]
    assert ember.empty(4).shape == (4,)
    assert ember.arange(1, 7, 2).tolist() == [1, 3, 5]
    np.testing.assert_allclose(ember.linspace(0, 1, 5).data, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(ember.eye(3).data, np.eye(3))
    x = ember.tensor([[1.0, 2.0]])
    assert ember.zeros_like(x).shape == (1, 2) and ember.ones_like(x).dtype == np.float32
    assert ember.full_like(x, 3).tolist() == [[3, 3]]
    assert ember.randn_like(x).shape == (1, 2) and ember.rand_like(x).shape == (1, 2)


def test_manual_seed_makes_random_repeatable():
    ember.manual_seed(42)
    a = (ember.rand(3), ember.randn(2, 2), ember.randint(0, 10, (5,)))
    ember.manual_seed(42)
    b = (ember.rand(3), ember.randn(2, 2), ember.randint(0, 10, (5,)))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.data, v.data)
    assert a[2].dtype == np.int64 and (a[2].data >= 0).all() and (a[2].data < 10).all()
    assert 0 <= a[0].data.min() and a[0].data.max() < 1


def test_numpy_bridge_shares_memory():
    arr = np.arange(4.0)
    t = ember.from_numpy(arr)
    arr[0] = 9
    assert t[0].item() == 9
    assert t.numpy() is arr
    with pytest.raises(RuntimeError, match="detach"):
        ember.ones(2, requires_grad=True).numpy()
    c = ember.tensor(arr)
    arr[1] = 7
    assert c[1].item() == 1  # ember.tensor copies


def test_conversions_and_attributes():
    t = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.size() == (2, 3) and t.size(1) == 3
    assert len(t) == 2 and t.numel() == 6
    assert t.T.shape == (3, 2)
    assert t.sum().item() == 21.0
    assert t.tolist() == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert t.astype(np.int64).dtype == np.int64 and t.long().dtype == np.int64
    assert t.double().dtype == np.float64


def test_non_differentiable_ops():
    t = ember.tensor([[-1.5, 2.5], [0.4, -0.6]], requires_grad=True)
    assert (t > 0).dtype == np.bool_ and (t > 0).tolist() == [[False, True], [True, False]]
    assert (t == t).all().item()
    assert t.argmax().item() == 1
    assert t.argmax(1).tolist() == [1, 0] and t.argmin(dim=0).tolist() == [0, 1]
    assert t.sign().tolist() == [[-1, 1], [1, -1]]
    assert t.floor().tolist() == [[-2, 2], [0, -1]]
    assert t.round().tolist() == [[-2, 2], [0, -1]]
    for r in (t > 0, t.argmax()):
        assert not r.requires_grad
    # changed (issue 9): sign/floor/round stay in the graph with a zero gradient, as PyTorch
    # (before, they cut it, and a loss through them had no gradient at all)
    for r in (t.sign(), t.floor(), t.round()):
        assert r.requires_grad


def test_max_forms_follow_torch_and_numpy():
    t = ember.tensor([[1.0, 5.0], [7.0, 2.0]])
    assert t.max().item() == 7
    values, indices = t.max(1)
    assert values.tolist() == [5, 7] and indices.tolist() == [1, 0]
    assert t.max(axis=1).tolist() == [5, 7]  # NumPy spelling, NumPy meaning
    assert ember.max(t, 0).values.tolist() == [7, 5]


def test_function_and_method_forms_agree():
    t = ember.randn(3, 4)
    for name in ["sum", "mean", "exp", "tanh", "abs"]:
        np.testing.assert_array_equal(getattr(ember, name)(t).data, getattr(t, name)().data)
    np.testing.assert_array_equal(ember.sum(t, 1).data, t.sum(1).data)
    np.testing.assert_allclose(ember.var(t, 1).data, np.var(t.data, 1, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(t.std(axis=0, ddof=0).data, np.std(t.data, 0), rtol=1e-6)


def test_indexing_and_assignment():
    t = ember.arange(12).reshape(3, 4)
    assert t[1, 2].item() == 6
    assert t[:, 1].tolist() == [1, 5, 9]
    assert t[[0, 2]].shape == (2, 4)
    assert t[t > 9].tolist() == [10, 11]
    assert t[range(3), ember.tensor([0, 1, 2])].tolist() == [0, 5, 10]
    t[0] = 100
    t[t > 10] = -1
    assert t[0].tolist() == [-1] * 4
    with pytest.raises(IndexError, match=r"shape \(3, 4\)"):
        t[5]


def test_split_chunk_and_errors():
    t = ember.arange(10)
    assert [p.tolist() for p in t.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [p.tolist() for p in t.split([3, 7])] == [list(range(3)), list(range(3, 10))]
    assert len(t.chunk(3)) == 3
    with pytest.raises(ValueError, match="sum to"):
        t.split([3, 3])
    with pytest.raises(ValueError, match="cannot reshape"):
        t.reshape(3, 4)
    with pytest.raises(ValueError, match=r"same shape except"):
        ember.cat([ember.ones(2, 3), ember.ones(3, 2)], 1)


def test_integer_and_bool_tensors_work_as_labels_and_masks():
    labels = ember.tensor([2, 0, 1])
    scores = ember.tensor([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05], [0.2, 0.6, 0.2]])
    correct = scores[range(3), labels]
    np.testing.assert_allclose(correct.data, [0.7, 0.9, 0.6])
    assert (scores.argmax(1) == labels).float().mean().item() == 1.0
