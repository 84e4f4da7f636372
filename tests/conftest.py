"""Every test starts from the same seeds (cylayers and torch). Under CI, hypothesis draws the
same examples on every run (derandomize), so a red CI always means a reproducible failure."""
import os

# Kernels normally leave cores that other processes keep busy (cylayers/_cpu_load.py). The tests
# that compare 1 and N threads must run N threads whatever else the test machine is doing; the
# load-following itself is tested with the variable set back to 1 (tests/test_cpu_load.py).
os.environ.setdefault("CYLAYERS_FOLLOW_LOAD", "0")

import pytest  # noqa: E402
import torch  # noqa: E402
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
