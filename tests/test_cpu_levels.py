"""The instruction-set levels (cylayers/_kernels/__init__.py): which one is chosen, that each
level the CPU supports loads its own kernels and computes the same numbers (to rounding), and
that the kernel tests pass at every supported level, not only the one chosen by default."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cylayers
from cylayers import _kernels
from cylayers._kernels import choose_level

ALL = ("baseline", "avx2", "avx512")


@pytest.mark.parametrize("requested,supported,want,warns", [
    ("", ("baseline", "avx2"), "avx2", False),                 # the highest the CPU runs
    ("", ("baseline", "avx2", "avx512"), "avx512", False),
    ("", ("baseline",), "baseline", False),
    ("default", ("baseline", "avx2"), "avx2", False),
    ("baseline", ("baseline", "avx2"), "baseline", False),      # a lower level on request
    (" AVX2 ", ("baseline", "avx2", "avx512"), "avx2", False),
    ("avx512", ("baseline", "avx2"), "avx2", True),             # never above the CPU
    ("sse9", ("baseline", "avx2"), "avx2", True),               # not a level
])
def test_choose_level(requested, supported, want, warns):
    level, note = choose_level(requested, ALL, supported)
    assert level == want and (note is not None) == warns
    if warns:
        assert "CYLAYERS_CPU_CAPABILITY" in note


def test_choose_level_never_picks_a_level_that_was_not_built():
    assert choose_level("", ("baseline", "avx2"), ALL) == ("avx2", None)
    level, note = choose_level("avx512", ("baseline", "avx2"), ALL)
    assert level == "avx2" and "no avx512 kernels" in note
    assert choose_level("", ("native",), ("baseline",))[0] == "native"
    assert "ignored" in choose_level("baseline", ("native",), ALL)[1]


def test_the_loaded_kernels_are_the_chosen_levels():
    assert _kernels.LEVEL in _kernels.SUPPORTED_LEVELS + ("native",)
    for name in _kernels.KERNEL_MODULES:
        module = getattr(_kernels, name)
        assert sys.modules[f"cylayers._kernels.{name}"] is module
        assert f"_{_kernels.LEVEL}" in os.path.dirname(module.__file__)


PROBE = r"""
import json, numpy as np, cylayers, cylayers._kernels as K
import cylayers.nn.functional as F
from cylayers import nn, _blas
from cylayers.nn.functional import direct_conv
rng = np.random.default_rng(0)
x = rng.standard_normal((4, 3, 12, 12)).astype(np.float32)
w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
z = rng.standard_normal((6, 40)).astype(np.float32)
out = {}
for threads in (1, 2):
    cylayers.set_num_threads(threads)
    xs = cylayers.tensor(x, requires_grad=True)
    ws = cylayers.tensor(w, requires_grad=True)
    y = F.gelu(F.batch_norm(F.conv2d(xs, ws, padding=1), None, None, training=True))
    zs = cylayers.tensor(z, requires_grad=True)
    u = F.log_softmax(F.layer_norm(F.selu(zs), (40,)), dim=1) + F.sigmoid(zs) * F.tanh(zs)
    (y.sum() + (u * u).sum()).backward()
    out[threads] = [a.tolist() for a in (y.detach().numpy(), u.detach().numpy(), xs.grad.numpy(),
                                        ws.grad.numpy(), zs.grad.numpy())]
print(json.dumps(dict(level=K.LEVEL, bytes=K._openmp.vector_bytes(),
                      files=[getattr(K, n).__file__ for n in K.KERNEL_MODULES],
                      register=[direct_conv._register_kernels, _blas._register_kernels],
                      out=out)))
"""


def _run_at(level, code):
    env = dict(os.environ, CYLAYERS_CPU_CAPABILITY=level)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.skipif(_kernels.LEVEL == "native", reason="a -march=native build has one level")
def test_every_supported_level_loads_its_own_kernels_and_gives_the_same_numbers():
    results = {}
    for level in _kernels.SUPPORTED_LEVELS:
        if level not in _kernels.BUILT_LEVELS:
            continue
        done = _run_at(level, PROBE)
        assert "RuntimeWarning" not in done.stderr, done.stderr
        got = json.loads(done.stdout)
        assert got["level"] == level
        assert all(f"_{level}" in f for f in got["files"])
        assert got["bytes"] == {"baseline": 16, "avx2": 32, "avx512": 64}[level]
        # the register-tiled kernels are used where they beat the BLAS: 256-bit vectors and up
        assert got["register"] == [level != "baseline"] * 2
        # the same bits on 1 and 2 threads at each level
        assert got["out"]["1"] == got["out"]["2"]
        results[level] = [np.array(a) for a in got["out"]["1"]]
    first = results.pop(_kernels.SUPPORTED_LEVELS[0])
    for level, arrays in results.items():  # levels differ by rounding (FMA, vector sums) alone
        for a, b in zip(arrays, first):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


DROPOUT_PROBE = r"""
import hashlib, numpy as np
from cylayers._kernels import dropout as K
digest = hashlib.sha256()
for dtype in (np.float32, np.float64):
    for n in (1, 3, 4, 31, 32, 33, 127, 8195, 40000):  # vector blocks, their rest, a partial block
        x = np.random.default_rng(n).standard_normal(n).astype(dtype)
        x[::7] = np.inf
        for offset in (0, 5, 2 ** 33 + 7):
            for mul, add, drop in ((2.0, 0.0, 0.0), (1.7, 0.3, -0.9)):  # Dropout, AlphaDropout
                out = np.empty_like(x)
                K.masked_affine(x, out, 987654321987, offset, 3 * 2 ** 30, mul, add, drop, 1, 2)
                digest.update(out.tobytes())
print(digest.hexdigest())
"""


@pytest.mark.skipif(_kernels.LEVEL == "native", reason="a -march=native build has one level")
def test_dropout_gives_the_same_bits_at_every_level():
    """The masks are integer arithmetic (Philox), eight blocks per vector where the level has
    256-bit vectors, one at a time elsewhere; the affine is rounded the same way everywhere."""
    digests = {_run_at(level, DROPOUT_PROBE).stdout.strip()
               for level in _kernels.SUPPORTED_LEVELS if level in _kernels.BUILT_LEVELS}
    assert len(digests) == 1


OTHER_LEVELS = [lv for lv in _kernels.SUPPORTED_LEVELS
                if lv != _kernels.LEVEL and lv in _kernels.BUILT_LEVELS]


@pytest.mark.parametrize("level", OTHER_LEVELS)
def test_kernel_tests_pass_at_every_other_supported_level(level):
    """The suite runs at the default level; the tests of everything a kernel computes run again
    at each other level this CPU supports."""
    here = os.path.dirname(os.path.abspath(__file__))
    targets = [os.path.join(here, p) for p in ("nn", "optim", "ops", "test_threads.py")]
    env = dict(os.environ, CYLAYERS_CPU_CAPABILITY=level)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *targets], capture_output=True, text=True, env=env, timeout=1800,
                          cwd=os.path.dirname(here))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout.splitlines()[-1]
