"""Datasets, samplers and a DataLoader that yields cylayers tensors (``torch.utils.data``)."""
from cylayers.data._worker import get_worker_info
from cylayers.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset,
                                   StackDataset, Subset, TensorDataset, random_split)
from cylayers.data.distributed import DistributedSampler
from cylayers.data.loader import DataLoader, default_collate, default_convert
from cylayers.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                   SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "IterableDataset", "StackDataset",
           "DataLoader", "Dataset", "DistributedSampler",
           "RandomSampler", "Sampler",
           "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
           "WeightedRandomSampler", "default_collate", "default_convert", "get_worker_info",
           "random_split"]
