"""Alias of :mod:`cylayers.data` under PyTorch's path."""
from cylayers.data import DataLoader, Dataset, TensorDataset, default_collate  # noqa: F401
