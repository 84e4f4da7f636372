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


def test_openmp_threads_sleep_when_idle_unless_the_user_chose():
    code = "import os, cylayers; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "ACTIVE"


def test_malloc_tuning_on_glibc_and_opt_out():
    code = "import cylayers._malloc as m; print(m.tuned)"
    env = dict(os.environ)
    env.pop("CYLAYERS_MALLOC_TUNING", None)
    on = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                        check=True).stdout.strip()
    import platform
    assert on == ("True" if platform.libc_ver()[0] == "glibc" else "False")
    env["CYLAYERS_MALLOC_TUNING"] = "0"
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert off == "False"
