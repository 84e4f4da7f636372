"""DistributedDataParallel: every rank holds the whole model and a share of each batch; during
backward the gradients are averaged over the ranks, bucket by bucket, each bucket's
non-blocking allreduce started as soon as all of its gradients are final, so communication
overlaps the rest of backward (PyTorch's reducer, on MPI)."""
import contextlib

import numpy as np

from cylayers import distributed as dist
from cylayers.distributed import _group
from cylayers._tensor import Tensor
from cylayers.autograd.engine import queue_callback
from cylayers.autograd.grad_mode import no_grad
from cylayers.nn.modules.module import Module


class _Bucket:
    def __init__(self, params, dtype):
        self.params = params
        self.offsets = np.cumsum([0] + [p.numel() for p in params])
        self.buffer = np.zeros(int(self.offsets[-1]), dtype=dtype)
        self.ready = set()
        self.request = None

    def slot(self, i):
        return self.buffer[self.offsets[i]:self.offsets[i + 1]]


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training. At construction every rank checks that all
    ranks hold the same parameters and buffers (names, shapes, dtypes, requires_grad; the same
    error on every rank otherwise), then rank 0's values are broadcast.

    Like PyTorch's, it is a Module whose only child is ``module``: its ``state_dict`` keys start
    with ``module.``; save ``ddp.module.state_dict()`` for a checkpoint that loads into the bare
    model (and into a DDP-wrapped one through ``ddp.module.load_state_dict``)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError("Default process group has not been initialized, please make "
                               "sure to call cylayers.distributed.init_process_group(\"mpi\") "
                               "before wrapping a model in DistributedDataParallel")
        if device_ids not in (None, [], ["cpu"]):
            raise ValueError("cylayers runs on the CPU only: device_ids must be None")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        self._params = [p for p in module.parameters() if p.requires_grad]
        # Buckets are built from each rank's own parameter list: if the lists differed, the
        # same bucket would hold different parameters on different ranks.
        _group.verify_same("DistributedDataParallel", _describe_state(module))
        self._world = dist.get_world_size()
        self._sync_from_rank0([p._array for p in module.parameters()] +
                              [b._array for b in module.buffers()], "its parameters and buffers")
        self._buckets, self._where = self._make_buckets(bucket_cap_mb * 2 ** 20)
        self._signature = ", ".join(str(b.buffer.size) for b in self._buckets)
        self._callback_queued = False
        self.reductions = 0  # bucket allreduces started so far (no_sync backward passes: none)
        for p in self._params:
            p.register_hook(self._make_hook(p))

    def _sync_from_rank0(self, arrays, what):
        g = _group.group()
        for arr in arrays:
            _group.wait(g.comm.Ibcast(arr, root=0),
                        f"DistributedDataParallel (broadcast of rank 0's {what})")

    def _make_buckets(self, cap_bytes):
        """Parameters in reverse order (the order backward produces their gradients), grouped
        into buckets of at most cap_bytes, one dtype per bucket."""
        buckets, where, current, size = [], {}, [], 0
        for p in reversed(self._params):
            if current and (size + p._array.nbytes > cap_bytes
                            or p._array.dtype != current[0]._array.dtype):
                buckets.append(_Bucket(current, current[0]._array.dtype))
                current, size = [], 0
            current.append(p)
            size += p._array.nbytes
        if current:
            buckets.append(_Bucket(current, current[0]._array.dtype))
        for b, bucket in enumerate(buckets):
            for i, p in enumerate(bucket.params):
                where[id(p)] = (b, i)
        return buckets, where

    def _make_hook(self, param):
        def hook(grad):
            if not self.require_backward_grad_sync or self._world == 1:
                return None
            if not self._callback_queued:
                self._callback_queued = True
                queue_callback(self._finish)
                # Every rank is about to reduce these buckets: not a collective of its own
                # (a rank still in forward, or in all_reduce, fails clearly instead).
                _group.agree(f"DistributedDataParallel backward({self._signature})")
            b, i = self._where[id(param)]
            bucket = self._buckets[b]
            # What .grad will hold after this backward: earlier (no_sync) gradients included.
            local = grad._array if param.grad is None else param.grad._array + grad._array
            bucket.slot(i)[...] = local.reshape(-1)
            bucket.ready.add(i)
            if len(bucket.ready) == len(bucket.params):
                self._launch(b)
            return None
        return hook

    def _launch(self, b):
        """Start every full bucket not yet started, in bucket order: MPI needs the same order
        of collectives on every rank, so a full bucket waits for the ones before it."""
        from mpi4py import MPI
        for bucket in self._buckets:
            if bucket.request is not None:
                continue
            if len(bucket.ready) != len(bucket.params):
                break
            bucket.request = _group.group().comm.Iallreduce(MPI.IN_PLACE, bucket.buffer,
                                                            op=MPI.SUM)
            self.reductions += 1

    def _finish(self):
        """After backward: finish every bucket (a parameter that got no gradient contributes
        its current one), then write the averages into .grad."""
        from mpi4py import MPI
        self._callback_queued = False
        for bucket in self._buckets:
            if bucket.request is None:
                for i, p in enumerate(bucket.params):
                    if i not in bucket.ready:
                        bucket.slot(i)[...] = 0 if p.grad is None else p.grad._array.reshape(-1)
                bucket.request = _group.group().comm.Iallreduce(MPI.IN_PLACE, bucket.buffer,
                                                                op=MPI.SUM)
                self.reductions += 1
        for b, bucket in enumerate(self._buckets):
            _group.wait(bucket.request, f"DistributedDataParallel's gradient allreduce "
                                        f"(bucket {b} of {len(self._buckets)})")
            bucket.request = None
            bucket.buffer /= self._world
            for i, p in enumerate(bucket.params):
                if p.grad is None:
                    p.grad = Tensor._make(np.zeros_like(p._array))
                with no_grad():
                    p.grad.copy_(Tensor._make(bucket.slot(i).reshape(p._array.shape)))
            bucket.ready.clear()

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self._world > 1 and self.training:
            buffers = [b._array for b in self.module.buffers()]
            if buffers:
                _group.agree(f"DistributedDataParallel forward({len(buffers)} buffers)")
                self._sync_from_rank0(buffers, "buffers")
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate local gradients without communicating; the first
        synchronized backward after it averages the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous


def _describe_state(module):
    """(name, shape dtype requires_grad) of every parameter and buffer, in module order."""
    entries = [(f"parameter {n}", f"{tuple(p.shape)} {p._array.dtype} "
                                   f"requires_grad={p.requires_grad}")
               for n, p in module.named_parameters()]
    entries += [(f"buffer {n}", f"{tuple(b.shape)} {b._array.dtype}")
                for n, b in module.named_buffers()]
    return entries
