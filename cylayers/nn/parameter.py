"""nn.Parameter: a leaf Tensor that modules register as learnable."""
import numpy as np

from cylayers._tensor import Tensor


class Parameter(Tensor):
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            arr = np.empty((0,), dtype=np.float32)
        else:
            arr = data._array if isinstance(data, Tensor) else np.asarray(data)
        self._init_fields(arr, False)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
