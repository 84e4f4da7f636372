"""Datasets and a DataLoader that yields cylayers tensors."""
from cylayers.data.dataset import Dataset, TensorDataset
from cylayers.data.loader import DataLoader, default_collate
