"""Data-parallel training on MPI (mpi4py), with PyTorch's ``torch.distributed`` names.

Launch one process per rank with ``mpiexec -n 2 python train.py``; in the script,
``cylayers.distributed.init_process_group("mpi")`` reads the rank and world size MPI gives.
Collectives work in place on a Tensor's storage. Before every collective the ranks agree on the
call (operation, shape, dtype, root: one tiny allreduce), so a mismatch is a clear error on
every rank instead of a hang or garbage; a wait longer than ``init_process_group(timeout=)``,
a rank that leaves while others wait for it, or an uncaught exception on any rank aborts the
whole job (MPI_Abort) rather than leaving the others waiting forever (cylayers/distributed/
_group.py).
"""
import datetime  # noqa: F401  (timeouts are datetime.timedelta, as in PyTorch)
import enum

import numpy as np

from cylayers._tensor import Tensor, writing
from cylayers.autograd.grad_mode import no_grad
from cylayers.distributed import _group
from cylayers.distributed._group import DEFAULT_TIMEOUT, is_initialized

_mpi = _group.mpi


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


def is_available():
    """True when mpi4py (and so an MPI library) can be imported."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_mpi_available():
    return is_available()


def _comm():
    return _group.group().comm


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the MPI job. ``world_size`` and ``rank``, if given, must agree with MPI's.
    ``timeout`` (a datetime.timedelta, default 30 minutes) bounds every wait in a collective:
    a rank that waits longer aborts the job, naming itself, the collective and the wait."""
    if backend not in ("mpi", None):
        raise ValueError(f"backend {backend!r} is not available in cylayers: use "
                         "backend=\"mpi\" (launch with mpiexec)")
    if is_initialized():
        raise RuntimeError("trying to initialize the default process group twice!")
    _group._timeout_seconds(timeout)  # a bad timeout fails before MPI is touched
    comm = _mpi().COMM_WORLD
    if world_size not in (-1, comm.Get_size()) or rank not in (-1, comm.Get_rank()):
        raise ValueError(f"world_size={world_size}, rank={rank} disagree with MPI's "
                         f"(size {comm.Get_size()}, rank {comm.Get_rank()})")
    _group.join(timeout)


def destroy_process_group(group=None):
    """Leave the process group; waits until every rank has called it (or exited)."""
    _group.leave()


def get_rank(group=None):
    return _group.group().rank if is_initialized() else 0


def get_world_size(group=None):
    return _group.group().size if is_initialized() else 1


def get_backend(group=None):
    _comm()
    return "mpi"


def barrier(group=None, async_op=False, device_ids=None):
    g = _group.group()
    _group.agree("barrier()")
    _group.wait(g.comm.Ibarrier(), "barrier")


def _check_writable(tensor):
    arr = tensor._array
    if not (arr.flags.c_contiguous and arr.flags.writeable):
        raise RuntimeError("collectives work in place: the tensor must be contiguous and "
                           "writeable")


def _check_src(src, what):
    size = get_world_size()
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < size:
        raise ValueError(f"{what}: src={src!r} is not a rank of this group of {size}")


_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.MAX: "MAX",
            ReduceOp.MIN: "MIN", ReduceOp.PRODUCT: "PROD"}


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks, in place (AVG divides the sum by the world size)."""
    MPI, g = _mpi(), _group.group()
    op = ReduceOp(op)
    _check_writable(tensor)
    with writing(tensor) as (arr,):
        _group.agree(f"all_reduce({_group.describe([arr])}, op={op.name})")
        _group.wait(g.comm.Iallreduce(MPI.IN_PLACE, arr, op=getattr(MPI, _MPI_OPS[op])),
                    f"all_reduce({_group.describe([arr])}, op={op.name})")
        if op == ReduceOp.AVG:
            arr /= g.size


def broadcast(tensor, src, group=None, async_op=False):
    """Rank ``src``'s tensor copied into every rank's, in place."""
    g = _group.group()
    _check_src(src, "broadcast")
    _check_writable(tensor)
    with writing(tensor) as (arr,):
        call = f"broadcast({_group.describe([arr])}, src={int(src)})"
        _group.agree(call)
        _group.wait(g.comm.Ibcast(arr, root=int(src)), call)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] receives rank r's ``tensor``."""
    g = _group.group()
    if len(tensor_list) != g.size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a world "
                         f"of {g.size}")
    arr = np.ascontiguousarray(tensor._array)
    for t in tensor_list:
        if tuple(t.shape) != arr.shape or t._array.dtype != arr.dtype:
            raise ValueError(f"all_gather: every output tensor must have the input's shape "
                             f"{arr.shape} and dtype {arr.dtype}, got {tuple(t.shape)} "
                             f"{t._array.dtype}")
    call = f"all_gather({_group.describe([arr])})"
    _group.agree(call)
    out = np.empty((g.size,) + arr.shape, dtype=arr.dtype)
    _group.wait(g.comm.Iallgather(arr, out), call)
    with no_grad():
        for t, part in zip(tensor_list, out):
            t.copy_(Tensor._make(part))
