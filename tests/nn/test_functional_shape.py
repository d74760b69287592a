import numpy as np
import pytest

import ember
import ember.nn.functional as F
from tests.conftest import torch_or_skip


def test_pad_flatten_one_hot_match_torch():
    torch = torch_or_skip()
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(F.pad(ember.tensor(x), (1, 2, 0, 1), value=-1).data,
                                  torch.nn.functional.pad(torch.tensor(x), (1, 2, 0, 1),
                                                          value=-1).numpy())
    assert F.flatten(ember.tensor(x), 1).shape == (2, 12)
    idx = np.array([[0, 2], [1, 1]])
    np.testing.assert_array_equal(F.one_hot(ember.tensor(idx)).data,
                                  torch.nn.functional.one_hot(torch.tensor(idx)).numpy())
    assert F.one_hot(ember.tensor([1]), 4).shape == (1, 4)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.one_hot(ember.tensor([3]), 3)


def test_tensor_dataset_items_are_tensors():
    ds = ember.data.TensorDataset(ember.arange(10.0).reshape(10, 1), ember.arange(10))
    x, y = ds[-1]
    assert isinstance(x, ember.Tensor) and isinstance(y, ember.Tensor)
    assert x.tolist() == [9.0] and y.item() == 9
    assert all(isinstance(t, ember.Tensor) for t in ds.tensors)
