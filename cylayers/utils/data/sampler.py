"""PyTorch's path torch.utils.data.sampler: cylayers.data.sampler."""
from cylayers.data.sampler import *  # noqa: F401,F403
