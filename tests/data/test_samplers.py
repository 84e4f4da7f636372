"""Samplers, Subset, ConcatDataset, random_split and default_collate against PyTorch."""
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import cylayers
from cylayers.data import (BatchSampler, ConcatDataset, DataLoader, RandomSampler,
                           SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                           WeightedRandomSampler, default_collate, random_split)
from cylayers.utils import data as utils_data


def test_utils_data_is_the_same_module_namespace():
    for name in utils_data.__all__:
        assert getattr(utils_data, name) is getattr(cylayers.data, name)


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (10, True),
                                                  (11, False)])
def test_sequential_and_batch_samplers_match_pytorch(batch_size, drop_last):
    ours = BatchSampler(SequentialSampler(range(10)), batch_size, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(10)), batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_random_sampler_permutes_and_draws_with_replacement():
    gen = cylayers.Generator().manual_seed(5)
    perm = list(RandomSampler(range(20), generator=gen))
    assert sorted(perm) == list(range(20)) and perm != list(range(20))
    again = list(RandomSampler(range(20), generator=cylayers.Generator().manual_seed(5)))
    assert again == perm
    draws = list(RandomSampler(range(5), replacement=True, num_samples=50))
    assert len(draws) == 50 and set(draws) <= set(range(5))
    longer = list(RandomSampler(range(4), num_samples=10))  # without replacement: 2.5 epochs
    assert len(longer) == 10 and sorted(longer[:4]) == sorted(longer[4:8]) == [0, 1, 2, 3]
    assert len(RandomSampler(range(4), num_samples=10)) == len(tud.RandomSampler(
        range(4), num_samples=10))
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(4), num_samples=0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        tud.RandomSampler(range(4), num_samples=0)


def test_subset_random_sampler():
    idx = [3, 7, 11, 19]
    got = list(SubsetRandomSampler(idx))
    assert sorted(got) == idx and len(SubsetRandomSampler(idx)) == 4


def test_weighted_random_sampler_frequencies_and_errors():
    w = [1.0, 3.0, 0.0, 6.0]
    draws = np.array(list(WeightedRandomSampler(w, 20000)))
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, np.array(w) / 10, atol=0.015)
    unique = list(WeightedRandomSampler(w, 3, replacement=False))
    assert sorted(unique) == [0, 1, 3]
    # beyond the positive weights, PyTorch takes the zero-weight ones last
    assert sorted(WeightedRandomSampler(w, 4, replacement=False)) == [0, 1, 2, 3]
    assert list(WeightedRandomSampler(w, 4, replacement=False))[-1] == 2
    firsts = [next(iter(WeightedRandomSampler(w, 2, replacement=False))) for _ in range(3000)]
    np.testing.assert_allclose(np.bincount(firsts, minlength=4) / 3000, np.array(w) / 10,
                               atol=0.03)
    with pytest.raises(RuntimeError, match="without replacement"):
        WeightedRandomSampler(w, 5, replacement=False)
    with pytest.raises(RuntimeError, match="without replacement"):
        list(tud.WeightedRandomSampler(w, 5, replacement=False))
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 2)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        tud.WeightedRandomSampler([[1.0]], 2)


def test_subset_and_concat_dataset_match_pytorch():
    a = TensorDataset(cylayers.arange(5), cylayers.arange(5) * 10)
    b = TensorDataset(cylayers.arange(3) + 100, cylayers.arange(3))
    ta = tud.TensorDataset(torch.arange(5), torch.arange(5) * 10)
    tb = tud.TensorDataset(torch.arange(3) + 100, torch.arange(3))
    cat, tcat = ConcatDataset([a, b]), tud.ConcatDataset([ta, tb])
    assert len(cat) == len(tcat) == 8
    for i in list(range(8)) + [-1, -8]:
        assert [t.item() for t in cat[i]] == [t.item() for t in tcat[i]]
    sub, tsub = Subset(cat, [7, 0, 4]), tud.Subset(tcat, [7, 0, 4])
    assert [[t.item() for t in sub[i]] for i in range(3)] == \
        [[t.item() for t in tsub[i]] for i in range(3)]
    assert cat.cumulative_sizes == tcat.cumulative_sizes


@pytest.mark.parametrize("lengths", [[4, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [0.34, 0.33, 0.33],
                                     [0.1] * 10])
def test_random_split_sizes_match_pytorch(lengths):
    n = 11
    ours = random_split(range(n), lengths, generator=cylayers.Generator().manual_seed(1))
    theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    flat = [i for s in ours for i in s]
    assert sorted(flat) == list(range(n))
    again = random_split(range(n), lengths, generator=cylayers.Generator().manual_seed(1))
    assert [list(s) for s in again] == [list(s) for s in ours]


def test_random_split_errors():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        tud.random_split(range(10), [3, 3])


Point = namedtuple("Point", ["x", "y"])


@pytest.mark.parametrize("batch", [
    [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
    [1.5, 2.5], [1, 2, 3], [True, False], ["a", "b"],
    [(1, 2.0), (3, 4.0)], [[1, 2], [3, 4]],
    [{"x": 1.0, "y": np.arange(2)}, {"x": 2.0, "y": np.arange(2) + 1}],
    [Point(1, 2.0), Point(3, 4.0)], [np.float32(1.5), np.float32(2.5)],
    [np.int32(1), np.int32(2)],
])
def test_default_collate_matches_pytorch(batch):
    ours = default_collate(batch)
    theirs = tud.default_collate(batch)

    def same(a, b):
        if isinstance(b, torch.Tensor):
            assert isinstance(a, cylayers.Tensor)
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        elif isinstance(b, dict):
            assert type(a) is type(b) and a.keys() == b.keys()
            for k in b:
                same(a[k], b[k])
        elif isinstance(b, (list, tuple)):
            assert type(a) is type(b) and len(a) == len(b)
            for x, y in zip(a, b):
                same(x, y)
        else:
            assert a == b

    same(ours, theirs)


def test_default_collate_of_tensors_and_unequal_sizes():
    out = default_collate([cylayers.ones(2), cylayers.zeros(2)])
    assert out.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([cylayers.ones(2), cylayers.ones(3)])


def test_loader_with_sampler_batch_sampler_collate_fn_and_generator():
    data = TensorDataset(cylayers.arange(10))
    got = [b[0].tolist() for b in DataLoader(data, batch_size=4, sampler=[9, 8, 7, 6, 5])]
    assert got == [[9, 8, 7, 6], [5]]
    got = [b[0].tolist() for b in DataLoader(data, batch_sampler=[[1, 2], [0]])]
    assert got == [[1, 2], [0]]
    got = list(DataLoader(data, batch_size=3, drop_last=True, collate_fn=len))
    assert got == [3, 3, 3]
    g1 = [b[0].tolist() for b in DataLoader(data, batch_size=5, shuffle=True,
                                            generator=cylayers.Generator().manual_seed(4))]
    g2 = [b[0].tolist() for b in DataLoader(data, batch_size=5, shuffle=True,
                                            generator=cylayers.Generator().manual_seed(4))]
    assert g1 == g2 and sorted(sum(g1, [])) == list(range(10))
    single = list(DataLoader(data, batch_size=None))
    assert len(single) == 10 and single[3][0].item() == 3
    assert len(DataLoader(data, batch_size=3)) == len(tud.DataLoader(range(10), batch_size=3))


def test_generator_state_round_trip_and_device():
    g = cylayers.Generator().manual_seed(9)
    state = g.get_state()
    first = list(RandomSampler(range(8), generator=g))
    g.set_state(state)
    assert list(RandomSampler(range(8), generator=g)) == first
    assert g.initial_seed() == 9 and str(g.device) == "cpu"
    with pytest.raises(ValueError, match="CPU only"):
        cylayers.Generator("cuda")
