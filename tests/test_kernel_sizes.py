"""Every kernel refuses arrays that do not fit its size arguments (ValueError naming the kernel),
whatever the caller: none reads or writes past an array's end.

The calls are the real ones: a workload of every layer and op that reaches a kernel is run once
with each kernel function wrapped to record its arguments; then each recorded call is replayed
with one array at a time one element short. A kernel the workload does not reach fails the
coverage test, so a new kernel cannot go untested."""
import sys
import types

import numpy as np
import pytest

import cylayers
import cylayers.nn.functional as F
from cylayers import _kernels, nn

# Kernel functions that take no arrays.
NO_ARRAYS = {"_openmp": {"have_openmp", "omp_max_threads", "omp_set_num_threads",
                         "vector_bytes"},
             "direct_conv": {"packed_length", "row_length", "scratch_length"},
             "gemm": {"have_blas", "panel_width", "register_columns", "set_blas"}}


def _kernel_functions():
    for module_name in _kernels.KERNEL_MODULES:
        module = getattr(_kernels, module_name)
        for name in dir(module):
            fn = getattr(module, name)
            if not name.startswith("_") and callable(fn) and \
                    name not in NO_ARRAYS.get(module_name, ()):
                yield module_name, name, module, fn


def _workload():
    cylayers.manual_seed(0)
    rng = np.random.default_rng(0)

    def t(*shape, grad=True, dtype=np.float32):
        return cylayers.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=grad)
    x = t(4, 8, 6, 6)
    acts = [F.relu, F.elu, F.gelu, lambda a: F.gelu(a, approximate="tanh"), F.hardsigmoid,
            F.hardswish, F.hardtanh, F.leaky_relu, F.mish, F.sigmoid, F.silu, F.softplus,
            F.tanh, F.selu, lambda a: F.softmax(a, 1), lambda a: F.log_softmax(a, -1),
            lambda a: F.softmax(a, -1), lambda a: F.prelu(a, cylayers.full((8,), 0.25)),
            lambda a: F.dropout(a, 0.3, True), lambda a: F.alpha_dropout(a, 0.2, True),
            lambda a: F.dropout2d(a, 0.3, True), cylayers.erf]
    for act in acts:
        act(x).sum().backward()
    q = t(2, 2, 5, 4)
    F.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
    for norm, inp in ((nn.BatchNorm2d(8), t(4, 8, 6, 6)), (nn.BatchNorm2d(8), t(4, 8, 9, 9)),
                      (nn.BatchNorm2d(8), t(64, 8, 1, 1)),
                      (nn.BatchNorm1d(8), t(40, 8)), (nn.BatchNorm1d(600), t(40, 600)),
                      (nn.BatchNorm2d(1), t(3, 1, 90, 90)), (nn.GroupNorm(1, 8), t(1, 8, 9, 9)),
                      (nn.LayerNorm(6), t(4, 8, 6)), (nn.GroupNorm(2, 8), t(4, 8, 6, 6)),
                      (nn.InstanceNorm2d(8, affine=True), t(4, 8, 6, 6))):
        norm(inp).sum().backward()
    for conv, inp in ((nn.Conv2d(8, 16, 3, padding=1), t(64, 8, 8, 8)),
                      (nn.Conv2d(3, 8, 3), t(4, 3, 12, 12)),
                      (nn.Conv2d(3, 8, 3, stride=2), t(4, 3, 12, 12)),
                      (nn.Conv2d(8, 16, 1), t(4, 8, 40, 40)),
                      (nn.Conv2d(16, 20, 3, padding=1), t(64, 16, 8, 8)),
                      (nn.Conv3d(1, 4, 3), t(2, 1, 8, 8, 8))):
        conv(inp).sum().backward()
        with cylayers.no_grad():
            conv(inp)
    for pool in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d((3, 2)),
                 nn.AdaptiveAvgPool2d(1)):
        pool(x).sum().backward()
    w = t(300, 400)
    (t(500, 300) @ w).sum().backward()
    for recurrent in (nn.LSTM(4, 8), nn.GRU(4, 8)):
        recurrent(t(5, 3, 4))[0].sum().backward()
    opt = cylayers.optim.Adam([w])
    opt.step()
    _kernels.dropout.keep_mask(10, 1, 2, 1 << 31, np.empty(10, np.uint8))
    # the panel product, which the LSTM above uses only at levels with 256-bit vectors
    width = _kernels.gemm.panel_width(True)
    panels = np.empty(2 * 5 * width, np.float32)
    _kernels.gemm.pack_panels(np.ones((5, width + 3), np.float32), panels)
    _kernels.gemm.panel_gemm(np.ones((7, 5), np.float32), panels,
                             np.empty((7, width + 3), np.float32), 2)


def record_calls():
    """{(module, kernel): the arguments of its first call in the workload}."""
    calls = {}
    originals = []

    def recorder(key, fn):
        def call(*args):
            if key not in calls:
                calls[key] = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                                   for a in args)
            return fn(*args)
        return call
    key_of = {}  # each original kernel function -> (module, name)
    for module_name, name, module, fn in _kernel_functions():
        key_of[fn] = (module_name, name)
        originals.append((module, name, fn))
        setattr(module, name, recorder(key_of[fn], fn))
    # the named_kernels namespaces hold wrappers around the originals: wrap theirs too
    spaces = []
    for mod in list(sys.modules.values()):
        if not getattr(mod, "__name__", "").startswith("cylayers"):
            continue
        for attr in list(vars(mod).values()):
            if isinstance(attr, types.SimpleNamespace):
                for name, fn in list(vars(attr).items()):
                    key = key_of.get(getattr(fn, "__wrapped__", None))
                    if key is not None:
                        spaces.append((attr, name, fn))
                        setattr(attr, name, recorder(key, fn))
    threads = cylayers.get_num_threads()
    cylayers.set_num_threads(2)  # the kernel families chosen by thread count (normalization)
    try:
        _workload()
    finally:
        cylayers.set_num_threads(threads)
        for module, name, fn in originals:
            setattr(module, name, fn)
        for space, name, fn in spaces:
            setattr(space, name, fn)
    return calls


@pytest.fixture(scope="module")
def recorded_calls():
    return record_calls()


def test_the_workload_reaches_every_kernel(recorded_calls):
    missing = sorted(f"{m}.{n}" for m, n, _, _ in _kernel_functions()
                     if (m, n) not in recorded_calls)
    assert not missing


@pytest.mark.parametrize("key", sorted((m, n) for m, n, _, _ in _kernel_functions()),
                         ids=lambda k: f"{k[0]}.{k[1]}")
def test_each_array_one_element_short_is_refused(recorded_calls, key):
    args = recorded_calls[key]
    fn = getattr(getattr(_kernels, key[0]), key[1])
    fn(*[np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args])  # fits
    accepted = []
    for i, a in enumerate(args):
        if not isinstance(a, np.ndarray) or a.shape[0] == 0:
            continue
        mutated = [np.array(b, copy=True) if isinstance(b, np.ndarray) else b for b in args]
        mutated[i] = a[:-1].copy()
        try:
            fn(*mutated)
        except ValueError:
            pass
        else:
            accepted.append(i)
    assert not accepted, f"{key[0]}.{key[1]} ran with argument(s) {accepted} one element short"
