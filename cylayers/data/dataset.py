"""Map-style datasets."""
import numpy as np

from cylayers._tensor import Tensor


class Dataset:
    """Subclasses implement ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the index-th rows of each given tensor (or array)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        arrays = [t._array if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        n = arrays[0].shape[0]
        if any(a.shape[0] != n for a in arrays):
            raise ValueError("Size mismatch between tensors: every tensor needs the same first "
                             f"dimension, got {[a.shape[0] for a in arrays]}")
        self.arrays = arrays

    def __getitem__(self, index):
        return tuple(Tensor._make(a[index]) for a in self.arrays)

    def __len__(self):
        return self.arrays[0].shape[0]

    @property
    def tensors(self):
        return tuple(Tensor._make(a) for a in self.arrays)
