"""PyTorch's path torch.utils.data.dataset: cylayers.data.dataset."""
from cylayers.data.dataset import *  # noqa: F401,F403
