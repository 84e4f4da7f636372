"""DataLoader (PyTorch's arguments and semantics): batches from a sampler, collated in this
process or in worker processes.

The main process always decides the order: it draws the epoch's base seed and the sampler's
indices from the same generator whatever ``num_workers`` is, and hands batch k to worker
k % num_workers; workers only fetch and collate. So the same seed gives the same batches for any
number of workers, and results come back in order.
"""
import collections.abc
import itertools
import multiprocessing
import numbers
import queue

import numpy as np

from cylayers._tensor import Tensor
from cylayers.data import _worker
from cylayers.data.dataset import IterableDataset, TensorDataset
from cylayers.data.sampler import BatchSampler, RandomSampler, SequentialSampler
from cylayers.random import Generator, get_generator

_COLLATE_TYPES = "tensors, numpy arrays, numbers, dicts or lists"


def default_convert(data):
    """batch_size=None: numpy arrays (and containers of them) become Tensors, as in PyTorch."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "SUO":
        return Tensor._make(data)
    if isinstance(data, np.generic):
        return Tensor._make(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(d) for d in data]
    return data


def default_collate(batch):
    """PyTorch's default_collate: Tensors and arrays are stacked, Python floats become a float64
    tensor and ints an int64 one, strings stay a list, dicts and sequences are collated per
    field (a tuple of fields gives a list, as in PyTorch; a namedtuple stays one)."""
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray)):
        arrays = [e._array if isinstance(e, Tensor) else e for e in batch]
        if arrays[0].dtype.kind in "SUO":
            raise TypeError(f"default_collate: batch must contain {_COLLATE_TYPES}; found "
                            f"an array of {arrays[0].dtype}")
        if any(a.shape != arrays[0].shape for a in arrays):
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{[list(a.shape) for a in arrays[:2]]} in the batch")
        return Tensor._make(np.stack(arrays))
    if isinstance(elem, np.generic):
        return Tensor._make(np.asarray(batch))
    if isinstance(elem, float):
        return Tensor._make(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, bool):
        return Tensor._make(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor._make(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {k: default_collate([d[k] for d in batch]) for k in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(f"default_collate: batch must contain {_COLLATE_TYPES}; found "
                    f"{type(elem)}")


class DataLoader:
    """Iterate over ``dataset`` in batches (``torch.utils.data.DataLoader``).

    ``num_workers`` > 0 fetches and collates in worker processes (each seeded with the epoch's
    base seed + its id, its kernels on one thread, ``worker_init_fn(id)`` called first);
    ``persistent_workers`` keeps them across epochs. ``pin_memory`` is accepted and changes
    nothing (there is no device memory). ``seed`` is a cylayers shortcut for
    ``generator=cylayers.Generator().manual_seed(seed)``."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, seed=None):
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if seed is not None:
            if generator is not None:
                raise ValueError("give either seed or generator, not both")
            generator = Generator().manual_seed(seed)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:  # a stream: no sampler, no shuffle, batches in the order it yields
            if shuffle:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 "and batch_sampler options")
            if num_workers:
                raise NotImplementedError("DataLoader with an IterableDataset and num_workers > "
                                          "0 is not supported by cylayers; use num_workers=0")
            sampler = _StreamSampler()
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, bool(drop_last)
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.num_workers, self.timeout = int(num_workers), timeout
        self.collate_fn = collate_fn or (default_collate if batch_sampler is not None
                                         else default_convert)
        self._custom_collate = collate_fn is not None
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor = 2 if (num_workers > 0 and prefetch_factor is None) \
            else prefetch_factor
        self.persistent_workers, self.in_order = persistent_workers, in_order
        self._pool = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self):
        if self._iterable:
            return self._stream_batches()
        # Drawn first in every mode, like PyTorch, so the sampler's draws that follow (and thus
        # the batches) do not depend on num_workers.
        base_seed = int(get_generator(self.generator).integers(0, 2 ** 62))
        indices = iter(self._index_sampler)
        if self.num_workers == 0:
            return self._serial_batches(indices)
        if self._pool is None or not self._pool.alive():
            if self._pool is not None:
                self._pool.shutdown()
            self._pool = _WorkerPool(self, base_seed)
        return self._pool.batches(indices, self.persistent_workers, owner=self)

    def _stream_batches(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def _serial_batches(self, indices):
        fast = (isinstance(self.dataset, TensorDataset) and self._auto_collation
                and not self._custom_collate)
        for batch in indices:
            if fast:  # fancy-index whole batches instead of collating samples one by one
                idx = np.asarray(batch, dtype=np.int64)
                yield [Tensor._make(a[idx]) for a in self.dataset.arrays]
            else:
                yield _worker.fetch(self.dataset, batch, self.collate_fn, self._auto_collation)

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None and pool.workers:
            pool.shutdown()


class _StreamSampler:
    """Stands in for a sampler with an IterableDataset: the dataset decides the order."""

    def __iter__(self):
        return iter(())


class _WorkerPool:
    """num_workers processes, one index queue each and one shared result queue."""

    def __init__(self, loader, base_seed):
        ctx = loader.multiprocessing_context
        if ctx is None or isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self.timeout = loader.timeout
        self.prefetch = max(1, loader.prefetch_factor or 1) * loader.num_workers
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        self.epoch = 0
        for worker_id in range(loader.num_workers):
            index_queue = ctx.Queue()
            proc = ctx.Process(
                target=_worker.worker_loop, daemon=True,
                args=(loader.dataset, loader.collate_fn, loader._auto_collation, index_queue,
                      self.result_queue, base_seed + worker_id, worker_id, loader.num_workers,
                      loader.worker_init_fn))
            proc.start()
            self.index_queues.append(index_queue)
            self.workers.append(proc)

    def alive(self):
        return bool(self.workers) and all(p.is_alive() for p in self.workers)

    def batches(self, indices, keep_alive, owner):
        """Yield the batches in order. ``owner`` (the DataLoader) is held so that dropping the
        loader while iterating does not shut its workers down under the iterator."""
        self.epoch += 1
        epoch, n_workers = self.epoch, len(self.workers)
        numbered = enumerate(indices)
        sent = 0
        try:
            for number, batch in itertools.islice(numbered, self.prefetch):
                self.index_queues[number % n_workers].put((epoch, number, batch))
                sent += 1
            waiting, expected = {}, 0
            while expected < sent:
                while expected not in waiting:
                    got_epoch, number, data = self._get()
                    if got_epoch == epoch:  # results of an abandoned earlier epoch are dropped
                        waiting[number] = data
                data = waiting.pop(expected)
                expected += 1
                for number, batch in itertools.islice(numbered, 1):
                    self.index_queues[number % n_workers].put((epoch, number, batch))
                    sent += 1
                if isinstance(data, _worker.WorkerError):
                    data.reraise()
                yield data
        finally:
            if not keep_alive:
                self.shutdown()

    def _get(self):
        deadline = self.timeout if self.timeout > 0 else None
        waited = 0.0
        while True:
            try:
                return self.result_queue.get(timeout=1.0)
            except queue.Empty:
                waited += 1.0
                dead = [p for p in self.workers if not p.is_alive()]
                if dead:
                    codes = ", ".join(f"pid {p.pid} exit code {p.exitcode}" for p in dead)
                    self.shutdown()
                    raise RuntimeError(f"DataLoader worker ({codes}) exited unexpectedly")
                if deadline is not None and waited >= deadline:
                    self.shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")

    def shutdown(self):
        for q in self.index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for p in self.workers:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for q in self.index_queues + [self.result_queue]:
            q.cancel_join_thread()  # a dead reader must not block the exit on a feeder thread
            q.close()
        self.workers, self.index_queues = [], []
