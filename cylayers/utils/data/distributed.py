"""PyTorch's path torch.utils.data.distributed: cylayers.data.distributed."""
from cylayers.data.distributed import *  # noqa: F401,F403
