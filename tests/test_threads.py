"""Thread-count control."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cylayers
from helpers import sum_tols


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


def test_openmp_threads_spin_briefly_unless_the_user_chose():
    code = ("import os, cylayers; print(os.environ.get('GOMP_SPINCOUNT'), "
            "os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["20000", "None"]
    env["GOMP_SPINCOUNT"] = "5"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split()[0] == "5"


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


def test_threadpoolctl_sees_and_limits_the_kernels_threads():
    from threadpoolctl import threadpool_info, threadpool_limits
    before = cylayers.get_num_threads()
    cylayers.nn.functional.relu(cylayers.randn(1 << 20))  # the OpenMP runtime is in use
    with threadpool_limits(1):
        assert cylayers.get_num_threads() == 1
    assert cylayers.get_num_threads() == before
    try:
        cylayers.set_num_threads(1)
        # Other packages may bring their own OpenMP runtime (scikit-learn does): ours is one
        openmp = [i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openmp"]
        if cylayers.have_openmp():
            assert 1 in openmp
    finally:
        cylayers.set_num_threads(before)


def test_matrix_products_run_on_the_kernels_threads_with_blas_idle():
    from threadpoolctl import threadpool_info
    from cylayers import _blas
    assert _blas.active(), _blas.info()  # cylayers' own scipy-openblas32 (a dependency)
    ours = [i for i in threadpool_info() if i["filepath"] == _blas.info()["path"]]
    assert len(ours) == 1 and ours[0]["num_threads"] == 1 and ours[0]["prefix"] == \
        "libscipy_openblas"


NUMPY_BLAS_THREADS = """
import json, numpy as np
from threadpoolctl import threadpool_info
np.ones((64, 64)) @ np.ones((64, 64))
def numpy_blas():
    return [(i["filepath"], i["num_threads"]) for i in threadpool_info()
            if i["user_api"] == "blas" and "numpy" in i["filepath"]]
before = numpy_blas()
import cylayers
cylayers.nn.functional.linear(cylayers.randn(256, 256), cylayers.randn(256, 256))
print(json.dumps([before, numpy_blas()]))
"""


def test_importing_cylayers_leaves_numpys_blas_threads_alone():
    """cylayers' products run on a BLAS of its own: the user's numpy keeps its thread count."""
    done = subprocess.run([sys.executable, "-c", NUMPY_BLAS_THREADS], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, OPENBLAS_NUM_THREADS="2"))
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout)
    assert before and before == after


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes,ta,tb", [(((7, 5), (5, 3)), False, False),
                                          (((300, 64), (64, 2)), False, False),
                                          (((2, 300), (64, 300)), False, True),
                                          (((64, 300), (64, 3)), True, False),
                                          (((4, 9, 33), (4, 33, 17)), False, False),
                                          (((1, 33, 9), (6, 33, 170)), True, False),
                                          (((3, 16, 144), (3, 4096, 144)), False, True),
                                          (((0, 4), (4, 3)), False, False)])
@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_kernel_matches_numpy(dtype, shapes, ta, tb, threads):
    from cylayers import _blas
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shapes[0]).astype(dtype)
    b = rng.standard_normal(shapes[1]).astype(dtype)
    want = np.matmul(a.swapaxes(-1, -2) if ta else a, b.swapaxes(-1, -2) if tb else b)
    before = cylayers.get_num_threads()
    try:
        cylayers.set_num_threads(threads)
        got = _blas.matmul(a, b, trans_a=ta, trans_b=tb)
    finally:
        cylayers.set_num_threads(before)
    assert got.shape == want.shape and got.dtype == want.dtype
    inner = a.shape[-2] if ta else a.shape[-1]
    np.testing.assert_allclose(got, want, **sum_tols(dtype, max(inner, 1), want))



def _on_threads(threads, fn, *args):
    """fn(*args) with cylayers' thread count set to ``threads``, restored after."""
    before = cylayers.get_num_threads()
    try:
        cylayers.set_num_threads(threads)
        return fn(*args)
    finally:
        cylayers.set_num_threads(before)


def _layout(rng, shape, dtype):
    """An array of this shape laid out at random in a larger buffer: axes permuted in memory,
    padded rows and columns, sometimes a reversed axis."""
    order = rng.permutation(len(shape))
    base = rng.standard_normal([shape[i] + int(rng.integers(0, 3)) for i in order])
    view = base.astype(dtype)[tuple(slice(0, shape[i]) for i in order)]
    view = view.transpose(np.argsort(order))
    if rng.random() < 0.15:
        view = view[..., ::-1, :]
    assert view.shape == shape
    return view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_matmul_nd_takes_strided_operands_where_they_lie(dtype, seed):
    """Views (attention's heads, transposed keys, broadcast batches, padded rows) give numpy's
    product, the same bits on 1 and 2 threads, and (on the BLAS) the bits of the product of
    their copies; so does an output array in any layout."""
    from cylayers import _blas
    rng = np.random.default_rng(seed)
    for _ in range(25):
        batch = tuple(int(s) for s in rng.integers(1, 5, rng.integers(0, 4)))
        m, n, k = (int(s) for s in rng.integers(1, 80, 3))
        ta, tb = (bool(f) for f in rng.integers(0, 2, 2))
        shapes = [(k, m) if ta else (m, k), (n, k) if tb else (k, n)]
        operands = []
        for mat in shapes:
            own = tuple(1 if rng.random() < 0.2 else s for s in batch)  # broadcast dims
            operands.append(_layout(rng, own[int(rng.integers(0, 2)) if own else 0:] + mat,
                                    dtype))
        a, b = operands
        results = [_on_threads(threads, _blas.matmul_nd, a, b, ta, tb) for threads in (1, 2)]
        want = np.matmul(a.swapaxes(-1, -2) if ta else a, b.swapaxes(-1, -2) if tb else b)
        assert results[0].shape == want.shape and results[0].dtype == want.dtype
        np.testing.assert_allclose(results[0], want, **sum_tols(dtype, k, want))
        np.testing.assert_array_equal(results[0], results[1])
        out = _layout(rng, want.shape, dtype)
        assert _blas.matmul_nd(a, b, ta, tb, out=out) is out
        np.testing.assert_allclose(out, want, **sum_tols(dtype, k, want))
        if want.size * k >= _blas._PARALLEL_MIN_MACS:  # smaller ones are numpy's matmul
            copies = _blas.matmul_nd(np.ascontiguousarray(a), np.ascontiguousarray(b), ta, tb)
            np.testing.assert_array_equal(results[0], copies)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,n,k", [(1024, 64, 4096),  # a weight gradient: blocks x parts of k
                                   (40, 600, 3000),   # blocks of columns, k in parts
                                   (300, 8, 2100),    # one block, two parts, the last shorter
                                   (2, 40, 2048)])
@pytest.mark.parametrize("ta,tb", [(True, False), (False, True), (False, False), (True, True)])
def test_products_with_a_long_inner_dimension_sum_its_parts_the_same_on_any_thread_count(
        dtype, m, n, k, ta, tb):
    """A long inner dimension is cut into parts added in order afterwards: numpy's product with
    the same bits on 1, 2 and 3 threads, in either output layout."""
    from cylayers import _blas
    rng = np.random.default_rng(m + n + k)
    a = _layout(rng, (k, m) if ta else (m, k), dtype)
    b = _layout(rng, (n, k) if tb else (k, n), dtype)
    want = np.matmul(a.T if ta else a, b.T if tb else b)
    results = [_on_threads(threads, _blas.matmul_nd, a, b, ta, tb) for threads in (1, 2, 3)]
    for got in results:
        np.testing.assert_array_equal(got, results[0])
    np.testing.assert_allclose(results[0], want, **sum_tols(dtype, k, want))
    column_major = np.empty((n, m), dtype).T  # written as the transposed product
    _blas.matmul_nd(a, b, ta, tb, out=column_major)
    np.testing.assert_allclose(column_major, want, **sum_tols(dtype, k, want))


def test_gemm_nd_keeps_the_gaps_and_says_which_layout_it_cannot_address():
    from cylayers._kernels import gemm
    c = np.full((2, 3, 5), 7.0)[:, :, :4]  # two 3x4 products in rows of 5: column 4 is a gap
    a = np.ones((1, 2, 3, 0))
    assert gemm.gemm_nd(a, np.ones((1, 1, 0, 4)), c[None], False, False, 1) == 0
    assert (c == 0).all() and (c.base[..., 4] == 7).all()
    x = np.ones((1, 1, 4, 4))
    spread = np.ones((1, 1, 8, 8))[:, :, ::2, ::2]  # no unit-stride axis
    out = np.empty((1, 1, 4, 4))
    assert gemm.gemm_nd(spread, x, out, False, False, 1) == 1
    assert gemm.gemm_nd(x, spread, out, False, False, 1) == 2
    assert gemm.gemm_nd(x, x, np.empty((1, 1, 8, 8))[:, :, ::2, ::2], False, False, 1) == 3
    with pytest.raises(ValueError, match="do not match"):
        gemm.gemm_nd(x, np.ones((1, 1, 3, 4)), out, False, False, 1)
    with pytest.raises(ValueError, match="do not broadcast"):
        gemm.gemm_nd(np.ones((2, 1, 4, 4)), x, np.empty((3, 1, 4, 4)), False, False, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch,m,n,k,ta", [
    (16, 1024, 32, 16, False),   # the digits CNN's Winograd forward product
    (16, 1024, 16, 32, False),   # and its input-gradient product
    (3, 13, 48, 5, False),       # rows not a multiple of 8, one wide and one narrow block
    (2, 7, 16, 64, True),        # a transposed, one narrow block
    (1, 1, 32, 3, True),
    (2, 9, 32, 0, False),        # nothing to sum: zeros
])
def test_register_gemm_matches_numpy_with_the_same_bits_on_any_thread_count(
        dtype, batch, m, n, k, ta):
    from cylayers._kernels import gemm
    rng = np.random.default_rng(1)
    a = rng.standard_normal((batch, k, m) if ta else (batch, m, k)).astype(dtype)
    b = rng.standard_normal((batch, k, n)).astype(dtype)
    want = np.matmul(a.swapaxes(-1, -2) if ta else a, b)
    got = []
    for threads in (1, 2):
        c = np.full((batch, m, n), np.nan, dtype)
        gemm.register_gemm(a.reshape(-1), b.reshape(-1), c.reshape(-1), batch, m, n, k, ta,
                           threads)
        got.append(c)
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_allclose(got[0], want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_register_gemm_refuses_what_does_not_fit():
    from cylayers._kernels import gemm
    h = gemm.register_columns(True)  # floats per vector at this kernel level
    a, b, c = (np.zeros(n, np.float32) for n in (2 * 8 * 4, 2 * 4 * 32, 2 * 8 * 32))
    gemm.register_gemm(a, b, c, 2, 8, 32, 4, False, 2)
    bad = h + h // 2
    with pytest.raises(ValueError, match=f"multiple of {h}"):
        gemm.register_gemm(a, b[:2 * 4 * bad], c[:2 * 8 * bad], 2, 8, bad, 4, False, 2)
    with pytest.raises(ValueError, match="sizes do not match"):
        gemm.register_gemm(a, b, c[:-1], 2, 8, 32, 4, False, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,n,k,trans_b", [
    (32, 1024, 256, True),   # the char-LM LSTM's step: states times the recurrent weight
    (32, 256, 1024, False),  # and its backward: the inner dimension in four chunks
    (13, 37, 300, True),     # rows past whole blocks, a part-filled last panel
    (1, 5, 3, False), (8, 16, 1, True), (130, 40, 70, False),
    (4, 9, 0, False),        # nothing to sum: zeros
])
def test_panel_gemm_matches_numpy_with_the_same_bits_on_any_thread_count(dtype, m, n, k,
                                                                         trans_b):
    from cylayers._kernels import gemm
    rng = np.random.default_rng(3)
    a = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    right = w.T if trans_b else w
    width = gemm.panel_width(dtype == np.float32)
    panels = np.full(-(-n // width) * k * width, np.nan, dtype)
    gemm.pack_panels(right, panels)
    got = []
    for threads in (1, 2):
        wide = np.full((m, n + 5), np.nan, dtype)  # rows a stride apart: c a view
        gemm.panel_gemm(a, panels, wide[:, 2:n + 2], threads)
        assert np.isnan(wide[:, :2]).all() and np.isnan(wide[:, n + 2:]).all()
        got.append(wide[:, 2:n + 2])
    np.testing.assert_array_equal(got[0], got[1])
    tol = 2e-6 * np.sqrt(max(k, 1)) if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got[0], a.astype(np.float64) @ right, rtol=tol, atol=tol)


def test_panel_gemm_refuses_what_does_not_fit():
    from cylayers._kernels import gemm
    width = gemm.panel_width(True)
    panels = np.empty(2 * 4 * width, np.float32)
    with pytest.raises(ValueError, match="pack_panels"):
        gemm.pack_panels(np.ones((4, 2 * width + 1), np.float32), panels)
    gemm.pack_panels(np.ones((4, width + 1), np.float32), panels)
    with pytest.raises(ValueError, match="do not match"):  # inner dimension 5, packed for 4
        gemm.panel_gemm(np.ones((3, 5), np.float32), panels,
                        np.empty((3, width + 1), np.float32), 1)
    with pytest.raises(ValueError, match="do not match"):  # columns not unit-strided
        gemm.panel_gemm(np.ones((3, 4), np.float32), panels,
                        np.empty((3, 2 * width + 2), np.float32)[:, ::2], 1)


@pytest.mark.parametrize("panels", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_b", [True, False])
def test_packed_operand_gives_the_product_on_either_path(monkeypatch, panels, dtype, trans_b):
    """A PackedOperand multiplies like matmul: on the panel kernel where vectors are 256 bits or
    wider and a product has few rows, else on matmul (many rows, another dtype, another build)."""
    from cylayers import _blas
    monkeypatch.setattr(_blas, "_register_kernels", panels)
    rng = np.random.default_rng(4)
    w = rng.standard_normal((48, 20) if trans_b else (20, 48)).astype(dtype)
    packed = _blas.PackedOperand(w, trans_b=trans_b)
    assert (packed.panels is not None) == panels
    # products that would all go to matmul leave b unpacked
    assert _blas.PackedOperand(w, trans_b, min_rows=_blas.PANEL_MAX_ROWS + 1).panels is None
    calls = []
    real = _blas._gemm.panel_gemm
    monkeypatch.setattr(_blas._gemm, "panel_gemm", lambda *a: calls.append(1) or real(*a))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for rows in (1, 7, _blas.PANEL_MAX_ROWS, _blas.PANEL_MAX_ROWS + 1):
        a = rng.standard_normal((rows, 20)).astype(dtype)
        np.testing.assert_allclose(packed.left_product(a), a @ (w.T if trans_b else w),
                                   rtol=tol, atol=tol)
    assert len(calls) == (3 if panels else 0)
    with pytest.raises(ValueError, match="inner dimensions differ"):
        packed.left_product(np.ones((2, 21), dtype))


@pytest.mark.parametrize("wide", [True, False])
@pytest.mark.parametrize("m,n,k", [(40, 32, 16), (40, 17, 16), (40, 32, 65)])
def test_thin_matmul_uses_the_register_kernel_only_where_it_fits(monkeypatch, wide, m, n, k):
    """Columns that fill whole vectors and a short inner dimension go to register_gemm (on a
    512-bit build); anything else, or another build, to matmul: the same products either way."""
    from cylayers import _blas
    calls = []
    monkeypatch.setattr(_blas, "_register_kernels", wide)
    real = _blas._gemm.register_gemm
    monkeypatch.setattr(_blas._gemm, "register_gemm", lambda *args: calls.append(1) or real(*args))
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, m, k)), rng.standard_normal((3, k, n))
    np.testing.assert_allclose(_blas.thin_matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_blas.thin_matmul(a.swapaxes(1, 2).copy(), b, trans_a=True),
                               a @ b, rtol=1e-12, atol=1e-12)
    assert len(calls) == (2 if wide and n % 8 == 0 and k <= _blas.THIN_MAX_INNER else 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_a,batch_b", [(3, 6), (2, 8), (1, 0), (3, 0), (3, 1)])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("active", [True, False])
def test_matmul_cycles_through_a_batch_that_divides_bs(dtype, batch_a, batch_b, ta, active,
                                                       monkeypatch):
    """Item i of b meets a[i % len(a)] (a grouped convolution's weights over blocks of images),
    on cylayers' threads and in the numpy fallback; a batch of one broadcasts even to none."""
    from cylayers import _blas
    if not active:
        monkeypatch.setitem(_blas._info, "active", False)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((batch_a, 7, 5) if ta else (batch_a, 5, 7)).astype(dtype)
    b = rng.standard_normal((batch_b, 7, 11)).astype(dtype)
    got = _blas.matmul(a, b, trans_a=ta)
    batch = batch_a if batch_b == 1 else batch_b  # and b's batch of one broadcasts
    assert got.shape == (batch, 5, 11)
    for i in range(batch):
        ai = a[i % batch_a]
        np.testing.assert_allclose(got[i], (ai.T if ta else ai) @ b[i % batch_b], rtol=1e-5,
                                   atol=1e-5)
    if batch_a > 1:
        with pytest.raises(ValueError, match="do not broadcast"):
            _blas.matmul(a, rng.standard_normal((batch_a + 1, 7, 11)).astype(dtype), trans_a=ta)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sums,groups", [(1, 1), (3, 2), (8, 1), (20, 3), (0, 2)])
@pytest.mark.parametrize("active", [True, False])
def test_matmul_sum_adds_the_products_over_the_first_axis(dtype, sums, groups, active,
                                                          monkeypatch):
    from cylayers import _blas
    if not active:
        monkeypatch.setitem(_blas._info, "active", False)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((sums, groups, 6, 40)).astype(dtype)
    b = rng.standard_normal((sums, groups, 9, 40)).astype(dtype)
    got = _blas.matmul_sum(a, b, trans_b=True)
    want = np.einsum("sgmk,sgnk->gmn", a.astype(np.float64), b.astype(np.float64))
    assert got.shape == (groups, 6, 9) and got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


def test_matmul_sum_does_not_depend_on_the_thread_count():
    """A fixed number of partial sums whatever the threads: the same bits on 1 and 2."""
    from cylayers import _blas
    rng = np.random.default_rng(3)
    a = rng.standard_normal((20, 1, 64, 900)).astype(np.float32)
    b = rng.standard_normal((20, 1, 27, 900)).astype(np.float32)
    before = cylayers.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            cylayers.set_num_threads(threads)
            results.append(_blas.matmul_sum(a, b, trans_b=True))
    finally:
        cylayers.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


def test_gemm_sum_refuses_mismatched_sizes():
    from cylayers._kernels import gemm
    a, b = np.zeros(2 * 6 * 4, np.float32), np.zeros(2 * 4 * 5, np.float32)
    with pytest.raises(ValueError, match="gemm_sum: array sizes"):  # partial too short
        gemm.gemm_sum(a, b, np.zeros(29, np.float32), 2, 1, 6, 5, 4, False, False, 1, 1)
    with pytest.raises(ValueError, match="gemm_sum: array sizes"):  # more chunks than items
        gemm.gemm_sum(a, b, np.zeros(3 * 30, np.float32), 2, 1, 6, 5, 4, False, False, 3, 1)

TORCH_FIRST = r"""
import torch  # its OpenMP runtime loads first; cylayers' kernels share it
import numpy as np
import cylayers
from cylayers import nn
cylayers.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                      nn.Flatten(), nn.Linear(8 * 64, 10))
opt = cylayers.optim.SGD(model.parameters(), lr=0.1)
x = cylayers.tensor(np.random.default_rng(0).standard_normal((64, 1, 8, 8)).astype(np.float32))
y = cylayers.tensor(np.arange(64) % 10)
for _ in range(5):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
print(repr(loss.item()))
"""


def test_training_after_importing_torch_first_gives_the_same_numbers():
    with_torch = subprocess.run([sys.executable, "-c", TORCH_FIRST], capture_output=True,
                                text=True, timeout=120)
    alone = subprocess.run([sys.executable, "-c", TORCH_FIRST.replace("import torch  #", "#")],
                           capture_output=True, text=True, timeout=120)
    assert with_torch.returncode == 0 and alone.returncode == 0, with_torch.stderr + alone.stderr
    assert abs(float(with_torch.stdout) - float(alone.stdout)) < 1e-5


def test_build_config_reports_the_levels_and_the_one_in_use():
    """A default build ships every level the compiler can make (baseline always); the level in
    use is one the CPU supports, and show() names it and the paths it enables."""
    from cylayers import _build_config as cfg, _kernels
    assert cfg.BUILD_STATE in ("editable", "wheel")
    if cfg.NATIVE_ARCH:
        assert cfg.LEVELS == ("native",) and _kernels.LEVEL == "native"
    else:
        assert cfg.LEVELS[0] == "baseline" and _kernels.LEVEL in _kernels.SUPPORTED_LEVELS
    assert cfg.OPENMP == cylayers.have_openmp()
    assert cylayers.__config__.cpu_capability() == _kernels.LEVEL
    text = cylayers.__config__.show()
    assert f"CPU capability: {_kernels.LEVEL} " in text
    assert f"vectors: {_kernels._openmp.vector_bytes() * 8}-bit" in text
    assert "direct convolution: " in text
    assert f"threads: {cylayers.get_num_threads()}, " in text
    assert "following the machine's load" in text or "other processes keep cores busy" in text
