"""RemovableHandle: what register_*hook returns (PyTorch's torch.utils.hooks.RemovableHandle)."""
import itertools

_ids = itertools.count()


class RemovableHandle:
    """``handle.remove()`` unregisters the hook; usable as a context manager."""

    def __init__(self, hooks_dict):
        self.hooks_dict = hooks_dict
        self.id = next(_ids)

    def remove(self):
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
