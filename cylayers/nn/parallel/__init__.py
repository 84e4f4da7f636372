"""Data parallelism: DistributedDataParallel on cylayers.distributed (MPI)."""
from cylayers.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
