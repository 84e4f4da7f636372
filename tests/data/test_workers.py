"""DataLoader worker processes: the same batches as num_workers=0 for the same seed, per-worker
seeds, worker_init_fn, persistent workers, errors carried back, kernels in forked workers."""
import os

import numpy as np
import pytest

import cylayers
import cylayers.nn.functional as F
from cylayers.data import DataLoader, Dataset, TensorDataset, get_worker_info


class Squares(Dataset):
    def __init__(self, n=37):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full(3, i * i, dtype=np.float32), "i": i, "name": f"s{i}"}


class WhoAmI(Dataset):
    """Each sample says which worker made it, with what seed, and a draw from cylayers' RNG."""

    def __len__(self):
        return 16

    def __getitem__(self, i):
        info = get_worker_info()
        return (i, info.id, info.seed, info.num_workers, float(cylayers.rand(1).item()),
                os.getpid(), _INIT.get("id", -1))


_INIT = {}


def _remember_id(worker_id):
    _INIT["id"] = worker_id


def _flatten(batches):
    flat = []
    for batch in batches:
        if isinstance(batch, dict):
            flat.append((batch["x"].tolist(), batch["i"].tolist(), batch["name"]))
        else:
            flat.append([t.tolist() for t in batch])
    return flat


@pytest.mark.parametrize("dataset", ["tensors", "squares"])
@pytest.mark.parametrize("persistent", [False, True])
def test_same_batches_for_any_number_of_workers(dataset, persistent):
    def make():
        if dataset == "tensors":
            data = np.arange(74, dtype=np.float32).reshape(37, 2)
            return TensorDataset(cylayers.tensor(data), cylayers.arange(37))
        return Squares()

    results = {}
    for workers in (0, 1, 3):
        cylayers.manual_seed(123)
        loader = DataLoader(make(), batch_size=5, shuffle=True, num_workers=workers,
                            persistent_workers=persistent and workers > 0, drop_last=False)
        results[workers] = [_flatten(loader) for _ in range(3)]  # three epochs
        results[workers].append(float(cylayers.rand(1).item()))  # the global stream after
    assert results[0] == results[1] == results[3]
    assert results[0][0] != results[0][1]  # a new order each epoch


def test_per_worker_seeds_and_worker_init_fn():
    cylayers.manual_seed(7)
    rows = [row for batch in DataLoader(WhoAmI(), batch_size=2, num_workers=3,
                                        worker_init_fn=_remember_id)
            for row in zip(*[t.tolist() if hasattr(t, "tolist") else t for t in batch])]
    by_worker = {}
    for i, wid, seed, n, draw, pid, init_id in rows:
        assert n == 3 and init_id == wid
        assert wid == (i // 2) % 3  # batch k goes to worker k % num_workers
        by_worker.setdefault(wid, set()).add((seed, pid))
    seeds = {wid: next(iter(v))[0] for wid, v in by_worker.items()}
    assert all(len(v) == 1 for v in by_worker.values())  # one seed and process per worker
    assert seeds[1] - seeds[0] == 1 and seeds[2] - seeds[0] == 2  # base seed + worker id
    draws = [r[4] for r in rows]
    assert len(set(draws)) == len(draws)  # workers do not repeat each other's random numbers
    cylayers.manual_seed(7)
    again = [row for batch in DataLoader(WhoAmI(), batch_size=2, num_workers=3)
             for row in zip(*[t.tolist() for t in batch])]
    assert [r[2] for r in again] == [r[2] for r in rows]  # seeds follow manual_seed
    assert [r[4] for r in again] == draws


def test_persistent_workers_survive_epochs_and_others_do_not():
    def pids(loader):
        return {p for batch in loader for p in batch[5].tolist()}

    persistent = DataLoader(WhoAmI(), batch_size=4, num_workers=2, persistent_workers=True)
    assert pids(persistent) == pids(persistent)
    fresh = DataLoader(WhoAmI(), batch_size=4, num_workers=2)
    assert pids(fresh).isdisjoint(pids(fresh))


class Broken(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"sample {i} is missing")
        return i


def test_worker_errors_reach_the_main_process():
    with pytest.raises(KeyError, match="(?s)in DataLoader worker process 0.*sample 5 is missing"):
        list(DataLoader(Broken(), batch_size=2, num_workers=2))

    def bad_init(worker_id):
        raise ValueError("no GPU here")

    with pytest.raises(ValueError, match="(?s)worker_init_fn.*no GPU here"):
        list(DataLoader(Broken(), batch_size=2, num_workers=1, worker_init_fn=bad_init))


class KernelWork(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        x = cylayers.full((1 << 18,), float(i) - 2.5)
        return F.relu(x).sum() + F.softmax(x.view(64, -1), dim=1).sum()


def test_kernels_in_forked_workers_after_parallel_kernels_in_the_parent():
    F.relu(cylayers.randn(1 << 20))  # the parent's OpenMP pool now exists
    serial = [b.tolist() for b in DataLoader(KernelWork(), batch_size=2)]
    parallel = [b.tolist() for b in DataLoader(KernelWork(), batch_size=2, num_workers=2,
                                               timeout=60)]
    assert parallel == serial


def test_spawn_context_and_pin_memory():
    data = TensorDataset(cylayers.arange(10), cylayers.arange(10) * 2)
    cylayers.manual_seed(3)
    want = [[t.tolist() for t in b] for b in DataLoader(data, batch_size=3, shuffle=True)]
    cylayers.manual_seed(3)
    got = [[t.tolist() for t in b] for b in DataLoader(data, batch_size=3, shuffle=True,
                                                      num_workers=2, pin_memory=True,
                                                      multiprocessing_context="spawn")]
    assert got == want


def test_loader_argument_checks_match_pytorch():
    import torch.utils.data as tud
    data = TensorDataset(cylayers.arange(4))
    tdata = tud.TensorDataset(__import__("torch").arange(4))
    cases = [dict(num_workers=-1), dict(persistent_workers=True),
             dict(prefetch_factor=2), dict(shuffle=True, sampler=[0, 1]),
             dict(batch_sampler=[[0]], batch_size=2), dict(batch_size=None, drop_last=True)]
    for kw in cases:
        with pytest.raises(ValueError) as ours:
            DataLoader(data, **kw)
        with pytest.raises(ValueError) as theirs:
            tud.DataLoader(tdata, **kw)
        assert str(ours.value) == str(theirs.value), kw
