"""Run under mpiexec with 2 ranks; argv[1] picks a misuse that must fail clearly, not hang."""
import sys

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
dist.init_process_group("mpi")
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
