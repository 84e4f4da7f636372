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


FORK_SCRIPT = r"""
import os, sys
import numpy as np
import cylayers
import cylayers.nn.functional as F

cylayers.set_num_threads(2)
x = cylayers.randn(8, 16, 64, 64)
w = cylayers.randn(4, 16, 3, 3)
ops = [lambda: F.relu(x), lambda: F.softmax(x, dim=1), lambda: F.layer_norm(x, (64,)),
       lambda: F.conv2d(x, w), lambda: F.batch_norm(x, None, None, training=True),
       lambda: F.group_norm(x, 4), lambda: x.flatten(1) @ x.flatten(1).T]
parent = [op().numpy() for op in ops]  # the parent's OpenMP pool now exists
r, wfd = os.pipe()
pid = os.fork()
if pid == 0:
    ok = all(np.array_equal(op().numpy(), want) for op, want in zip(ops, parent))
    threads = cylayers.get_num_threads()
    os.write(wfd, b"%d %d" % (ok, threads))
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(os.read(r, 100).decode(), status)
"""


def test_kernels_run_in_a_child_forked_after_parallel_kernels():
    """libgomp's pool does not survive fork (PyTorch hangs here); the child runs serially."""
    out = subprocess.run([sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    ok, threads, status = out.stdout.split()
    assert (ok, status) == ("1", "0")
    assert threads == "1"


def test_set_num_threads_in_a_forked_child_warns_and_stays_serial():
    script = FORK_SCRIPT.replace("threads = cylayers.get_num_threads()", """import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cylayers.set_num_threads(2)
    threads = cylayers.get_num_threads() * 10 + len(caught)""")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    ok, threads, status = out.stdout.split()
    # with OpenMP: serial and one warning; without it there is no pool to lose, so no warning
    assert (ok, threads, status) == ("1", "11" if cylayers.have_openmp() else "10", "0")
