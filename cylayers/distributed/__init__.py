"""Data-parallel training on MPI (mpi4py), with PyTorch's ``torch.distributed`` names.

Launch one process per rank with ``mpiexec -n 2 python train.py``; in the script,
``cylayers.distributed.init_process_group("mpi")`` reads the rank and world size MPI gives.
Collectives work in place on a Tensor's storage. Before every collective the ranks compare the
tensor's shape and dtype (one tiny allreduce), so a mismatch is a clear error on every rank
instead of a hang; after ``init_process_group`` an uncaught exception on any rank aborts the
whole job (MPI_Abort) rather than leaving the others waiting forever.
"""
import enum
import sys
import zlib

import numpy as np

_state = {"comm": None, "previous_excepthook": None}


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("cylayers.distributed needs mpi4py and an MPI implementation: "
                          "pip install 'cylayers[mpi]' (mpi4py and the mpich wheel, which "
                          "brings mpiexec)") from None
    return MPI


def is_available():
    """True when mpi4py (and so an MPI library) can be imported."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_mpi_available():
    return is_available()


def is_initialized():
    return _state["comm"] is not None


def _comm():
    if _state["comm"] is None:
        raise RuntimeError("Default process group has not been initialized, please make sure "
                           "to call cylayers.distributed.init_process_group(\"mpi\")")
    return _state["comm"]


def _abort_on_uncaught(exc_type, exc, tb):
    previous = _state["previous_excepthook"] or sys.__excepthook__
    previous(exc_type, exc, tb)
    comm = _state["comm"]
    if comm is not None and comm.Get_size() > 1:
        sys.stderr.write(f"cylayers.distributed: rank {comm.Get_rank()} failed; aborting the "
                         "job so the other ranks do not wait forever\n")
        sys.stderr.flush()
        comm.Abort(1)


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the MPI job. ``world_size`` and ``rank``, if given, must agree with MPI's."""
    if backend not in ("mpi", None):
        raise ValueError(f"backend {backend!r} is not available in cylayers: use "
                         "backend=\"mpi\" (launch with mpiexec)")
    if is_initialized():
        raise RuntimeError("trying to initialize the default process group twice!")
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    if world_size not in (-1, comm.Get_size()) or rank not in (-1, comm.Get_rank()):
        raise ValueError(f"world_size={world_size}, rank={rank} disagree with MPI's "
                         f"(size {comm.Get_size()}, rank {comm.Get_rank()})")
    _state["comm"] = comm
    _state["previous_excepthook"] = sys.excepthook
    sys.excepthook = _abort_on_uncaught


def destroy_process_group(group=None):
    if _state["previous_excepthook"] is not None:
        sys.excepthook = _state["previous_excepthook"]
    _state["comm"] = None
    _state["previous_excepthook"] = None


def get_rank(group=None):
    return _comm().Get_rank() if is_initialized() else 0


def get_world_size(group=None):
    return _comm().Get_size() if is_initialized() else 1


def get_backend(group=None):
    _comm()
    return "mpi"


def barrier(group=None, async_op=False, device_ids=None):
    _comm().Barrier()


def _fingerprint(arrays):
    """(count, a checksum of every shape and dtype) as one int64 pair per rank."""
    text = ";".join(f"{a.shape}{a.dtype.str}" for a in arrays)
    return np.asarray([len(arrays), zlib.crc32(text.encode())], dtype=np.int64)


def check_same_shapes(arrays, what):
    """Every rank holds arrays of the same shapes and dtypes, or every rank raises."""
    comm = _comm()
    MPI = _mpi()
    mine = _fingerprint(arrays)
    low, high = np.empty_like(mine), np.empty_like(mine)
    comm.Allreduce(mine, low, op=MPI.MIN)
    comm.Allreduce(mine, high, op=MPI.MAX)
    if not np.array_equal(low, high):
        shapes = [tuple(a.shape) for a in arrays]
        raise RuntimeError(f"cylayers.distributed: {what}: the ranks' tensors differ in shape "
                           f"or dtype (rank {comm.Get_rank()} has {shapes[:4]}"
                           f"{'...' if len(shapes) > 4 else ''} "
                           f"{arrays[0].dtype if arrays else ''})")


def _array_of(tensor):
    arr = tensor._array
    if not (arr.flags.c_contiguous and arr.flags.writeable):
        raise RuntimeError("collectives work in place: the tensor must be contiguous and "
                           "writeable")
    return arr


_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.MAX: "MAX",
            ReduceOp.MIN: "MIN", ReduceOp.PRODUCT: "PROD"}


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks, in place (AVG divides the sum by the world size)."""
    MPI, comm = _mpi(), _comm()
    arr = _array_of(tensor)
    check_same_shapes([arr], "all_reduce")
    comm.Allreduce(MPI.IN_PLACE, arr, op=getattr(MPI, _MPI_OPS[ReduceOp(op)]))
    if ReduceOp(op) == ReduceOp.AVG:
        arr /= comm.Get_size()
    tensor._bump_version()


def broadcast(tensor, src, group=None, async_op=False):
    comm = _comm()
    arr = _array_of(tensor)
    check_same_shapes([arr], "broadcast")
    comm.Bcast(arr, root=src)
    tensor._bump_version()


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] receives rank r's ``tensor``."""
    comm = _comm()
    if len(tensor_list) != comm.Get_size():
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a world "
                         f"of {comm.Get_size()}")
    arr = np.ascontiguousarray(tensor._array)
    check_same_shapes([arr], "all_gather")
    out = np.empty((comm.Get_size(),) + arr.shape, dtype=arr.dtype)
    comm.Allgather(arr, out)
    for t, part in zip(tensor_list, out):
        if tuple(t.shape) != arr.shape:
            raise ValueError(f"all_gather: output tensors must have shape {arr.shape}")
        t._array[...] = part
        t._bump_version()
