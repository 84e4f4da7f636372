"""Run under mpiexec with 2 ranks; argv[1] picks a misuse that must fail clearly, not hang."""
import datetime
import sys
import time

import cylayers
import cylayers.distributed as dist
from cylayers import nn

case = sys.argv[1]
if case == "ddp_before_init":
    try:
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    except RuntimeError as e:
        sys.stdout.write(f"error: {e}\n")
    sys.exit(0)
timeout = datetime.timedelta(seconds=float(sys.argv[2])) if len(sys.argv) > 2 else None
dist.init_process_group("mpi", timeout=timeout)
rank = dist.get_rank()
if case == "shapes":
    try:
        dist.all_reduce(cylayers.ones(3 if rank == 0 else 4))
    except RuntimeError as e:
        sys.stdout.write(f"rank {rank} error: {e}\n")
elif case == "model":
    try:
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2 + rank))
    except RuntimeError as e:
        sys.stdout.write(f"rank {rank} error: {e}\n")
elif case == "requires_grad":
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    if rank == 1:
        model[2].bias.requires_grad_(False)
    try:
        nn.parallel.DistributedDataParallel(model)
    except RuntimeError as e:
        sys.stdout.write(f"rank {rank} error: {e}\n")
elif case == "different_collectives":
    try:
        if rank == 0:
            dist.broadcast(cylayers.ones(3), src=0)
        else:
            dist.all_reduce(cylayers.ones(3))
    except RuntimeError as e:
        sys.stdout.write(f"rank {rank} error: {e}\n")
elif case == "syncbn_channels":
    bn = nn.SyncBatchNorm(3 + rank)
    try:
        bn(cylayers.randn(4, 3 + rank, 2, 2))
    except RuntimeError as e:
        sys.stdout.write(f"rank {rank} error: {e}\n")
elif case == "exit_early":  # rank 1 leaves without destroy_process_group
    if rank == 1:
        sys.exit(0)
    time.sleep(0.5)
    dist.all_reduce(cylayers.ones(3))
    print("rank 0 finished the all_reduce: wrong")
elif case == "destroy_early":
    if rank == 1:
        dist.destroy_process_group()
        sys.exit(0)
    dist.all_reduce(cylayers.ones(3))
    print("rank 0 finished the all_reduce: wrong")
elif case == "late":  # rank 1 arrives long after the timeout
    if rank == 1:
        time.sleep(30)
    dist.barrier()
    print(f"rank {rank} passed the barrier: wrong")
elif case == "no_destroy":  # a script that just ends: every rank leaves cleanly
    t = cylayers.ones(2)
    dist.all_reduce(t)
    sys.stdout.write(f"rank {rank} done {t.tolist()}\n")
    sys.stdout.flush()
    if rank == 0:
        time.sleep(1.0)  # the other rank leaves first and must not be taken for a failure
    sys.exit(0)
elif case == "crash":
    if rank == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.barrier()  # rank 0 would wait here forever without the abort
    print("rank 0 passed the barrier: wrong")
elif case == "collectives":
    t = cylayers.tensor([float(rank + 1), 10.0 * (rank + 1)])
    dist.all_reduce(t)
    a = cylayers.tensor([float(rank + 1)])
    dist.all_reduce(a, op=dist.ReduceOp.MAX)
    m = cylayers.tensor([float(rank + 1)])
    dist.all_reduce(m, op=dist.ReduceOp.AVG)
    b = cylayers.tensor([7.0 if rank == 0 else 0.0])
    dist.broadcast(b, src=0)
    parts = [cylayers.zeros(2) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, cylayers.tensor([rank, rank + 0.5]))
    dist.barrier()
    # one write per rank, so the two ranks' lines do not interleave
    sys.stdout.write(f"rank {rank}: {t.tolist()} {a.tolist()} {m.tolist()} {b.tolist()} "
                     f"{[p.tolist() for p in parts]}\n")
    sys.stdout.flush()
dist.destroy_process_group()
