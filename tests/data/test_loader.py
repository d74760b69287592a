import threading

import numpy as np
import pytest

import ember
from ember.data import (ArrayDataset, ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                        default_collate, random_split)
from ember.data import transforms as T
from ember.tensor import Tensor


class ListDataset(Dataset):
    """A generic dataset without get_batch (sample-by-sample path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2, 3), i, dtype=np.float32), i


def _xy(n=10):
    return np.arange(n * 4, dtype=np.float32).reshape(n, 4), np.arange(n) % 3


def test_tensor_dataset_length_mismatch_message():
    with pytest.raises(ValueError, match=r"same first dimension.*\(10, 4\).*\(9,\)"):
        TensorDataset(np.zeros((10, 4)), np.zeros(9))


def test_tensor_dataset_items_and_get_batch():
    x, y = _xy()
    ds = TensorDataset(x, y)
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == y[3]
    bx, by = ds.get_batch(np.array([5, 1]))
    np.testing.assert_array_equal(bx, x[[5, 1]])
    np.testing.assert_array_equal(by, y[[5, 1]])
    with pytest.raises(IndexError):
        ds[10]


def test_tensor_dataset_accepts_ember_tensors():
    x, y = _xy()
    ds = TensorDataset(Tensor(x), Tensor(y))
    np.testing.assert_array_equal(ds[2][0], x[2])


def test_loader_batches_tensors_and_int64_labels():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y.astype(np.int32)), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    bx, by = batches[0]
    assert isinstance(bx, Tensor) and isinstance(by, Tensor)
    assert by.data.dtype == np.int64
    np.testing.assert_array_equal(bx.data, x[:4])
    assert batches[-1][0].data.shape == (2, 4)


def test_drop_last():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[0].data.shape[0] for b in loader] == [4, 4]


def test_shuffle_reproducible_under_manual_seed_and_a_permutation():
    x, y = _xy(20)
    loader = DataLoader(TensorDataset(x, y), batch_size=6, shuffle=True)
    ember.manual_seed(123)
    first = np.concatenate([b[0].data[:, 0] for b in loader])
    ember.manual_seed(123)
    again = np.concatenate([b[0].data[:, 0] for b in loader])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(np.sort(first), x[:, 0])
    assert not np.array_equal(first, x[:, 0])
    third = np.concatenate([b[0].data[:, 0] for b in loader])  # next epoch differs
    assert not np.array_equal(first, third)


def test_generic_dataset_uses_default_collate():
    loader = DataLoader(ListDataset(5), batch_size=2)
    bx, by = next(iter(loader))
    assert bx.data.shape == (2, 2, 3)
    np.testing.assert_array_equal(by.data, [0, 1])
    assert by.data.dtype == np.int64


def test_default_collate_shapes_error():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    out = default_collate([(1.5, 2), (2.5, 3)])
    assert out[0].dtype == np.float32 and out[1].dtype == np.int64


def test_custom_collate_fn():
    x, y = _xy(4)
    loader = DataLoader(TensorDataset(x, y), batch_size=2,
                        collate_fn=lambda samples: (np.stack([s[0] for s in samples]) * 0,))
    (bx,) = next(iter(loader))
    assert float(bx.data.sum()) == 0


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_preserve_order(workers):
    x, y = _xy(50)
    plain = [b[0].data for b in DataLoader(TensorDataset(x, y), batch_size=7)]
    threaded = [b[0].data for b in DataLoader(TensorDataset(x, y), batch_size=7, num_workers=workers)]
    assert len(plain) == len(threaded) == 8
    for a, b in zip(plain, threaded):
        np.testing.assert_array_equal(a, b)


def test_workers_augmentation_repeatable_under_seed():
    x = np.random.default_rng(0).random((40, 1, 6, 6)).astype(np.float32)
    ds = ArrayDataset(x, np.zeros(40, dtype=np.int64), transform=T.GaussianNoise(0.5))

    def run():
        ember.manual_seed(7)
        return np.concatenate([b[0].data for b in DataLoader(ds, batch_size=8, shuffle=True, num_workers=3)])

    a, b = run(), run()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, np.sort(x, axis=0))  # noise was added


def _worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("ember-data-worker")]


def test_workers_shut_down_on_early_break():
    x, y = _xy(200)
    loader = DataLoader(TensorDataset(x, y), batch_size=2, num_workers=3, prefetch_factor=1)
    for i, _ in enumerate(loader):
        if i == 2:
            break
    assert _worker_threads() == []
    it = iter(loader)
    next(it)
    it.close()
    assert _worker_threads() == []


class Exploding(Dataset):
    def __len__(self):
        return 20

    def __getitem__(self, i):
        if i == 9:
            raise KeyError(f"bad sample {i}")
        return np.zeros(2), i


def test_worker_exception_reraised_with_message():
    loader = DataLoader(Exploding(), batch_size=2, num_workers=2)
    seen = 0
    with pytest.raises(KeyError, match="bad sample 9"):
        for _ in loader:
            seen += 1
    assert seen == 4  # batches 0..3 delivered in order before batch 4 (samples 8, 9) fails
    assert _worker_threads() == []


def test_loader_level_batch_transform():
    x = np.zeros((6, 4, 4, 3), dtype=np.uint8) + 255
    loader = DataLoader(TensorDataset(x, np.arange(6)), batch_size=3, transform=T.ToTensor())
    bx, _ = next(iter(loader))
    assert bx.data.shape == (3, 3, 4, 4) and bx.data.dtype == np.float32
    assert float(bx.data.max()) == 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ListDataset(3), batch_size=0)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ListDataset(3), num_workers=-1)


def test_random_split_ints_fractions_and_reproducible():
    ds = TensorDataset(np.arange(10))
    ember.manual_seed(1)
    a, b = random_split(ds, [7, 3])
    assert len(a) == 7 and len(b) == 3
    together = np.concatenate([a.indices, b.indices])
    np.testing.assert_array_equal(np.sort(together), np.arange(10))
    ember.manual_seed(1)
    a2, _ = random_split(ds, [0.7, 0.3])
    np.testing.assert_array_equal(a.indices, a2.indices)
    parts = random_split(ds, [0.5, 0.25, 0.25])
    assert [len(p) for p in parts] == [6, 2, 2]  # floor(5, 2.5, 2.5) + remainder to the first
    with pytest.raises(ValueError, match="sum"):
        random_split(ds, [5, 6])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])


def test_subset_batch_fast_path_and_concat():
    x, y = _xy(10)
    sub = Subset(TensorDataset(x, y), [9, 0, 4])
    np.testing.assert_array_equal(sub.get_batch([0, 2])[0], x[[9, 4]])
    np.testing.assert_array_equal(sub[1][0], x[0])
    assert not hasattr(Subset(ListDataset(3), [0]), "get_batch")
    cat = ConcatDataset([ListDataset(2), ListDataset(3)])
    assert len(cat) == 5 and cat[3][1] == 1


def test_subset_is_copyable_and_picklable():
    import copy
    import pickle
    x, y = _xy(5)
    sub = Subset(TensorDataset(x, y), [4, 2])
    for clone in (copy.deepcopy(sub), pickle.loads(pickle.dumps(sub))):
        np.testing.assert_array_equal(clone.get_batch([1])[0], x[[2]])


def test_mixup_as_a_loader_batch_transform():
    import ember
    from ember.data import DataLoader, TensorDataset
    from ember.data import transforms as T
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    y = np.arange(10) % 2
    ember.manual_seed(0)
    loader = DataLoader(TensorDataset(x, y), batch_size=5,
                        batch_transform=T.Mixup(0.4, num_classes=2))
    xb, yb = next(iter(loader))
    assert xb.shape == (5, 4) and yb.shape == (5, 2)
    np.testing.assert_allclose(yb.data.sum(1), 1, rtol=1e-6)
    with pytest.raises(TypeError, match="batch_transform"):
        next(iter(DataLoader(TensorDataset(x, y), batch_size=5,
                             transform=T.Mixup(0.4, num_classes=2))))
