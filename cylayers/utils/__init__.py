"""PyTorch-style import paths: ``from cylayers.utils.data import DataLoader``."""
from cylayers.utils import data
