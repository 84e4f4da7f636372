"""PyTorch's path torch.utils.data.dataloader: cylayers.data.loader."""
from cylayers.data.loader import *  # noqa: F401,F403
