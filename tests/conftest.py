"""Every test starts from the same seeds (cylayers and torch). Under CI, hypothesis draws the
same examples on every run (derandomize), so a red CI always means a reproducible failure."""
import os

import pytest
import torch
from hypothesis import settings

import cylayers

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _seeded():
    cylayers.manual_seed(0)
    torch.manual_seed(0)
    yield
