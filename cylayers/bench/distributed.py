"""Data-parallel scaling on this machine: ``mpiexec -n N python -m cylayers.bench.distributed``.

Trains the example ConvBNReLU CNN (SyncBatchNorm + DistributedDataParallel) on the digits with
a global batch of 64 split over the ranks, one thread per rank, and prints samples per second
and the share of a step spent waiting for collectives (allreduce / allgather / broadcast)."""
import argparse
import time

import numpy as np

import cylayers
import cylayers.distributed as dist
from cylayers.distributed import _group
from cylayers import nn
from cylayers.bench import models


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60, help="timed training steps")
    p.add_argument("--batch-size", type=int, default=64, help="global batch, split over ranks")
    args = p.parse_args(argv)
    cylayers.set_num_threads(1)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    timed = _group.group()  # adds up the seconds spent waiting for collectives
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    cylayers.manual_seed(0)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(models.conv_bn_relu_net(cylayers))
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = cylayers.optim.Adam(ddp.parameters(), lr=1e-3)
    share = args.batch_size // world
    order = np.random.default_rng(0).permutation(len(x))

    def step(i):
        idx = order[(i * args.batch_size) % (len(x) - args.batch_size):][:args.batch_size]
        idx = idx[rank * share:(rank + 1) * share]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(ddp(cylayers.tensor(x[idx])), cylayers.tensor(y[idx]))
        loss.backward()
        opt.step()

    for i in range(5):
        step(i)
    dist.barrier()
    timed.wait_seconds = 0.0
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(i)
    dist.barrier()
    elapsed = time.perf_counter() - t0
    if rank == 0:
        print(f"ranks={world} threads/rank=1 global batch={args.batch_size}: "
              f"{args.steps * share * world / elapsed:.0f} samples/s, "
              f"{1e3 * elapsed / args.steps:.1f} ms/step, MPI calls "
              f"{100 * timed.wait_seconds / elapsed:.0f}% of a step")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
