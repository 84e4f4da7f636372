"""Thread-count control."""
import os
import subprocess
import sys

import pytest

import cylayers


def test_set_and_get_num_threads():
    before = cylayers.get_num_threads()
    try:
        cylayers.set_num_threads(1)
        assert cylayers.get_num_threads() == 1
    finally:
        cylayers.set_num_threads(before)
    with pytest.raises(ValueError, match="positive integer"):
        cylayers.set_num_threads(0)


def test_openmp_build_and_env_default():
    assert isinstance(cylayers.have_openmp(), bool)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c",
                          "import cylayers; print(cylayers.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
