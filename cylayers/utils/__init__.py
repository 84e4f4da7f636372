"""PyTorch-style import paths: ``cylayers.utils.data`` (``torch.utils.data``) and
``cylayers.utils.hooks``. ``data`` is loaded on first use: it builds on nn and the DataLoader,
while the core (Tensor hooks) needs only ``hooks``."""
import importlib

from cylayers.utils import hooks  # noqa: F401


def __getattr__(name):
    if name == "data":
        return importlib.import_module("cylayers.utils.data")
    raise AttributeError(f"module 'cylayers.utils' has no attribute {name!r}")
