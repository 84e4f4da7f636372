"""DataLoader: batches of a map-style dataset, shuffled reproducibly."""
import numbers

import numpy as np

from cylayers._tensor import Tensor
from cylayers.data.dataset import TensorDataset
from cylayers.random import get_generator


def default_collate(samples):
    """Stack a list of samples (tensors, arrays, numbers, or tuples/dicts of them)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, Tensor):
        return Tensor._make(np.stack([s._array for s in samples]))
    if isinstance(first, np.ndarray):
        return Tensor._make(np.stack(samples))
    if isinstance(first, bool):
        return Tensor._make(np.asarray(samples, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return Tensor._make(np.asarray(samples, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor._make(np.asarray(samples, dtype=np.float32))
    return samples


class DataLoader:
    """Iterate over ``dataset`` in batches.

    shuffle draws a new permutation per epoch from cylayers' generator (reproducible under
    ``cylayers.manual_seed``), or from a private generator seeded with ``seed``."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 collate_fn=None):
        if not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.collate_fn = collate_fn or default_collate
        self._generator = np.random.Generator(np.random.PCG64(seed)) if seed is not None \
            else None

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return (self._generator or get_generator()).permutation(n)

    def __iter__(self):
        order = self._order()
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        fast = isinstance(self.dataset, TensorDataset)
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            if fast:  # fancy-index whole batches instead of collating samples one by one
                yield tuple(Tensor._make(a[idx]) for a in self.dataset.arrays)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in idx])
