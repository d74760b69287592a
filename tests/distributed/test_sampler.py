"""DistributedSampler: PyTorch's shards (padding, drop_last, strided split), reshuffled by
set_epoch, disjoint across ranks. No MPI needed."""
import numpy as np
import pytest

import ember
from ember.data import DistributedSampler

from ..conftest import torch_or_skip


def shards(n, world, **kw):
    return [list(DistributedSampler(range(n), num_replicas=world, rank=r, **kw))
            for r in range(world)]


@pytest.mark.parametrize("n,world,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False),
                                               (12, 4, False), (7, 2, True), (1, 3, False)])
def test_same_indices_as_torch_without_shuffle(n, world, drop_last):
    torch = torch_or_skip()
    from torch.utils.data import DistributedSampler as TorchSampler
    for r in range(world):
        ours = DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=False,
                                  drop_last=drop_last)
        theirs = TorchSampler(range(n), num_replicas=world, rank=r, shuffle=False,
                              drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)
    del torch


def test_shuffled_shards_cover_the_data_and_differ_per_epoch():
    n, world = 103, 4
    parts = shards(n, world, seed=5)
    assert len({len(p) for p in parts}) == 1 and len(parts[0]) == 26
    flat = sum(parts, [])
    assert set(flat) == set(range(n)) and len(flat) == 104  # one index repeated as padding
    s = DistributedSampler(range(n), num_replicas=world, rank=0, seed=5)
    first = list(s)
    assert list(s) == first  # same epoch, same order
    s.set_epoch(1)
    second = list(s)
    assert second != first
    s.set_epoch(0)
    assert list(s) == first
    assert list(DistributedSampler(range(n), num_replicas=world, rank=0, seed=6)) != first


def test_drop_last_shards_are_disjoint():
    parts = shards(10, 3, drop_last=True, seed=0)
    flat = sum(parts, [])
    assert [len(p) for p in parts] == [3, 3, 3] and len(set(flat)) == 9


def test_bad_arguments():
    with pytest.raises(ValueError, match="rank must be an int in \\[0, 1\\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


def test_epoch_loop_with_a_loader():
    x = np.arange(20, dtype=np.float32)
    ds = ember.data.TensorDataset(x, np.arange(20))
    seen = []
    for rank in range(2):
        s = DistributedSampler(ds, num_replicas=2, rank=rank, seed=1)
        s.set_epoch(3)
        for xb, yb in ember.data.DataLoader(ds, batch_size=4, sampler=s):
            seen += yb.data.tolist()
    assert sorted(seen) == list(range(20))
