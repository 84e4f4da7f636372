"""What runs inside a DataLoader worker process, and get_worker_info() for datasets."""
import random
import traceback
from collections import namedtuple

WorkerInfo = namedtuple("WorkerInfo", ["id", "num_workers", "seed", "dataset"])

_worker_info = None


def get_worker_info():
    """In a DataLoader worker: (id, num_workers, seed, dataset) of this worker; else None."""
    return _worker_info


class WorkerError:
    """An exception raised in a worker, carried to the main process as text (the exception
    object itself may not pickle)."""

    def __init__(self, exc_type, where):
        self.exc_type = exc_type
        self.message = f"Caught {exc_type.__name__} {where}.\nOriginal " + traceback.format_exc()

    def reraise(self):
        try:
            error = self.exc_type(self.message)
        except Exception:  # an exception class whose constructor takes other arguments
            error = RuntimeError(self.message)
        raise error


def fetch(dataset, indices, collate_fn, auto_collation):
    """One batch: the samples at ``indices`` collated (or one sample, without batching)."""
    if not auto_collation:
        return collate_fn(dataset[indices])
    return collate_fn([dataset[i] for i in indices])


def worker_loop(dataset, collate_fn, auto_collation, index_queue, result_queue, seed, worker_id,
                num_workers, worker_init_fn):
    """Serve (epoch, batch number, indices) requests until a None arrives."""
    global _worker_info
    import cylayers
    # One thread per worker, as in PyTorch: the workers already use the cores between them.
    cylayers.set_num_threads(1)
    random.seed(seed)
    cylayers.manual_seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception as e:
            init_error = WorkerError(type(e), f"in worker_init_fn of DataLoader worker "
                                              f"process {worker_id}")
    while True:
        try:
            request = index_queue.get()
        except (KeyboardInterrupt, EOFError, OSError):
            return
        if request is None:
            return
        epoch, number, indices = request
        if init_error is not None:
            result_queue.put((epoch, number, init_error))
            continue
        try:
            batch = fetch(dataset, indices, collate_fn, auto_collation)
        except Exception as e:
            batch = WorkerError(type(e), f"in DataLoader worker process {worker_id}")
        result_queue.put((epoch, number, batch))
