"""PyTorch-style import paths: ``cylayers.utils.data`` (``torch.utils.data``) and
``cylayers.utils.hooks``."""
from cylayers.utils import data, hooks  # noqa: F401
