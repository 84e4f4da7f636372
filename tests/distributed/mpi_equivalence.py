"""Run under mpiexec: ranks holding equal shares of every batch train exactly like one process
on the whole batch. argv[1]: 'mlp' (DDP) or 'cnn' (SyncBatchNorm + DDP); argv[2]: output .npz
(rank 0 writes both runs' final state_dicts); 'accumulate' is the MLP with each rank's share
split in two micro-batches, the first under no_sync()."""
import sys

import numpy as np

import cylayers
import cylayers.distributed as dist
from cylayers import nn

KIND, OUT = sys.argv[1], sys.argv[2]
STEPS, BATCH = 12, 16


def make_model():
    cylayers.manual_seed(0)
    if KIND in ("mlp", "accumulate"):
        return nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 36, 4))


def data(step):
    rng = np.random.default_rng(step)
    shape = (BATCH, 10) if KIND != "cnn" else (BATCH, 1, 6, 6)
    return (rng.standard_normal(shape).astype(np.float64),
            rng.integers(0, 4, BATCH))


def train(model, shard, micro_batches=1):
    """SGD steps; with micro_batches > 1 each step accumulates the gradients of that many
    pieces of the shard, communicating only on the last (DDP's no_sync)."""
    opt = cylayers.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        x, y = data(step)
        x, y = shard(x), shard(y)
        opt.zero_grad()
        pieces = np.array_split(np.arange(len(y)), micro_batches)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            context = model.no_sync() if (micro_batches > 1 and not last) else _nothing()
            with context:
                loss = nn.functional.cross_entropy(model(cylayers.tensor(x[piece])),
                                                   cylayers.tensor(y[piece]))
                (loss / micro_batches).backward()
        opt.step()
    return model


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
half = BATCH // world
shard = lambda a: a[rank * half:(rank + 1) * half]  # noqa: E731
model = make_model().double()
if KIND == "cnn":
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.001)  # several buckets
train(ddp, shard, micro_batches=2 if KIND == "accumulate" else 1)
# one allreduce per bucket per step: the no_sync() backward passes communicated nothing
assert ddp.reductions == STEPS * len(ddp._buckets), (ddp.reductions, len(ddp._buckets))
assert len(ddp._buckets) > 1
if rank == 0:
    reference = make_model().double()
    train(reference, lambda a: a)
    ours = {k: v.numpy() for k, v in ddp.module.state_dict().items()}
    ref = {k: v.numpy() for k, v in reference.state_dict().items()}
    np.savez(OUT, **{"dist_" + k: v for k, v in ours.items()},
             **{"ref_" + k: v for k, v in ref.items()})
dist.destroy_process_group()
