"""Every test starts from the same seeds (cylayers and torch)."""
import pytest
import torch

import cylayers


@pytest.fixture(autouse=True)
def _seeded():
    cylayers.manual_seed(0)
    torch.manual_seed(0)
    yield
