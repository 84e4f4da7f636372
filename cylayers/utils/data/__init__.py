"""Alias of :mod:`cylayers.data` under PyTorch's path (``torch.utils.data``)."""
from cylayers.data import *  # noqa: F401,F403
from cylayers.data import __all__  # noqa: F401
