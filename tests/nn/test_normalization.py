"""Normalization layers: PyTorch parity for every option (several training steps then eval:
outputs, input/weight/bias grads, all buffers), gradcheck, numerics, errors, threads."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck
from helpers import assert_close

TN = torch.nn


def _sync(ours, theirs, seed=0):
    """Give both modules the same (random, not default) parameters."""
    rng = np.random.default_rng(seed)
    sd = {}
    for k, v in theirs.state_dict().items():
        if k.endswith("weight"):
            sd[k] = torch.from_numpy(rng.uniform(0.5, 1.5, tuple(v.shape)).astype(
                v.numpy().dtype))
        elif k.endswith("bias"):
            sd[k] = torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(v.shape)).astype(
                v.numpy().dtype))
        else:
            sd[k] = v
    theirs.load_state_dict(sd)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})


def _run_steps(ours, theirs, shape, dtype, steps=3, transpose=False, scale=1.0, shift=0.0):
    """Train-mode steps then one eval step; compare everything after each."""
    rng = np.random.default_rng(1)
    for step in range(steps + 1):
        if step == steps:
            ours.eval()
            theirs.eval()
        x = (rng.standard_normal(shape) * scale + shift).astype(dtype)
        if transpose:  # a non-contiguous input with the same logical shape
            x_nc = np.swapaxes(np.ascontiguousarray(np.swapaxes(x, -1, -2)), -1, -2)
            assert not x_nc.flags.c_contiguous
            x = x_nc
        xo = cylayers.tensor(x, requires_grad=True)
        xt = torch.from_numpy(np.array(x)).requires_grad_()
        if transpose:
            xo = cylayers.from_numpy(x).requires_grad_()
        yo, yt = ours(xo), theirs(xt)
        assert_close(yo, yt, dtype)
        g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        for p in ours.parameters():
            p.grad = None
        theirs.zero_grad()
        yo.backward(cylayers.tensor(g))
        yt.backward(torch.from_numpy(g))
        assert_close(xo.grad, xt.grad, dtype)
        for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert_close(p.grad, q.grad, dtype, err_msg=n)
        for (n, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers()):
            if c is None:
                assert b is None
            elif c.dtype == torch.int64:
                assert b.item() == c.item(), n
            else:
                assert_close(b, c, dtype)


BN_OPTIONS = [dict(), dict(momentum=None), dict(momentum=0.3, eps=1e-3), dict(affine=False),
              dict(track_running_stats=False), dict(affine=False, track_running_stats=False),
              dict(bias=False)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", BN_OPTIONS, ids=str)
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (7, 5)), ("BatchNorm1d", (4, 5, 3)),
                                       ("BatchNorm2d", (3, 5, 7, 1)),
                                       ("BatchNorm2d", (2, 3, 1, 1)),
                                       ("BatchNorm3d", (2, 3, 2, 5, 3))], ids=str)
def test_batchnorm_parity(cls, shape, opts, dtype):
    ours = getattr(nn, cls)(shape[1], **opts)
    theirs = getattr(TN, cls)(shape[1], **opts)
    if dtype == np.float64:
        ours.double(), theirs.double()
    _sync(ours, theirs)
    _run_steps(ours, theirs, shape, dtype)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", [dict(), dict(affine=True), dict(track_running_stats=True),
                                  dict(affine=True, track_running_stats=True, momentum=0.2),
                                  dict(affine=True, bias=False)], ids=str)
@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 7)),
                                       ("InstanceNorm1d", (4, 7)),
                                       ("InstanceNorm2d", (2, 3, 5, 3)),
                                       ("InstanceNorm2d", (3, 5, 3)),
                                       ("InstanceNorm3d", (2, 3, 2, 3, 2))], ids=str)
def test_instancenorm_parity(cls, shape, opts, dtype):
    c = shape[1] if len(shape) == int(cls[-2]) + 2 else shape[0]
    ours, theirs = getattr(nn, cls)(c, **opts), getattr(TN, cls)(c, **opts)
    if dtype == np.float64:
        ours.double(), theirs.double()
    _sync(ours, theirs)
    _run_steps(ours, theirs, shape, dtype)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("args,shape", [(((5,),), (3, 5)), (((4, 3),), (2, 7, 4, 3)),
                                        (([64, 32],), (20, 64, 32)), ((7,), (7,)),
                                        (((3,), 1e-3, False), (4, 3)),
                                        (((3, 2), 1e-5, True, False), (5, 3, 2))], ids=str)
def test_layernorm_parity(args, shape, dtype):
    ours, theirs = nn.LayerNorm(*args), TN.LayerNorm(*args)
    if dtype == np.float64:
        ours.double(), theirs.double()
    _sync(ours, theirs)
    _run_steps(ours, theirs, shape, dtype, steps=1)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("args,shape", [((2, 6), (3, 6, 5)), ((3, 6), (2, 6, 4, 3)),
                                        ((3, 6), (2, 6)), ((1, 4, 1e-3, False), (3, 4, 5)),
                                        ((8, 64), (4, 64, 3, 3)), ((5, 5), (1, 5, 7, 1, 2))],
                         ids=str)
def test_groupnorm_parity(args, shape, dtype):
    ours, theirs = nn.GroupNorm(*args), TN.GroupNorm(*args)
    if dtype == np.float64:
        ours.double(), theirs.double()
    _sync(ours, theirs)
    _run_steps(ours, theirs, shape, dtype, steps=1)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("make,shape", [
    (lambda L: L.nn.BatchNorm2d(4), (3, 4, 5, 6)),
    (lambda L: L.nn.InstanceNorm2d(4, affine=True), (3, 4, 5, 6)),
    (lambda L: L.nn.GroupNorm(2, 4), (3, 4, 5, 6)),
    (lambda L: L.nn.LayerNorm([5, 6]), (3, 4, 5, 6))])
def test_non_contiguous_inputs(make, shape):
    ours, theirs = make(cylayers), make(torch)
    _sync(ours, theirs)
    _run_steps(ours, theirs, shape, np.float32, steps=1, transpose=True)


@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    lambda x, w, b: F.batch_norm(x, cylayers.tensor(np.linspace(-1, 1, 3)),
                                 cylayers.tensor(np.linspace(0.5, 2, 3)), w, b, training=False),
    lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
    lambda x, w, b: F.group_norm(x, 3, w, b),
    lambda x, w, b: F.layer_norm(x.transpose(1, 3), [3], w, b),  # non-contiguous rows
], ids=["batch_train", "batch_eval", "instance", "group", "layer"])
def test_gradcheck(fn):
    rng = np.random.default_rng(0)
    x = cylayers.tensor(rng.standard_normal((2, 3, 2, 4)), requires_grad=True)
    w = cylayers.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = cylayers.tensor(rng.uniform(-1, 1, 3), requires_grad=True)
    assert gradcheck(fn, [x, w, b])


def test_large_mean_input_keeps_its_variance():
    rng = np.random.default_rng(0)
    x = (1e4 + rng.standard_normal((16, 3, 32, 32))).astype(np.float32)
    bn = nn.BatchNorm2d(3)
    y = bn(cylayers.tensor(x)).detach().numpy()
    ref_var = x.astype(np.float64).var(axis=(0, 2, 3))
    np.testing.assert_allclose(bn.running_var.numpy(),
                               0.9 + 0.1 * ref_var * x[:, 0].size / (x[:, 0].size - 1), rtol=1e-5)
    assert abs(y.std() - 1) < 1e-3 and abs(y.mean()) < 1e-3
    ln = F.layer_norm(cylayers.tensor(x), [3, 32, 32]).numpy()
    assert abs(ln.std() - 1) < 1e-3


def test_batchnorm_eval_uses_running_stats_and_errors():
    bn = nn.BatchNorm1d(3)
    bn.running_mean.data[:] = [1.0, 2.0, 3.0]
    bn.running_var.data[:] = [4.0, 1.0, 0.25]
    bn.eval()
    x = cylayers.tensor([[1.0, 2.0, 3.0], [3.0, 3.0, 3.5]])
    expected = (x.numpy() - [1, 2, 3]) / np.sqrt(np.array([4.0, 1.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(bn(x).detach().numpy(), expected, rtol=1e-6)
    bn.train()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn(cylayers.randn(1, 3))
    with pytest.raises(ValueError, match="expected 4D input \\(got 3D input\\)"):
        nn.BatchNorm2d(3)(cylayers.randn(2, 3, 4))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        bn(cylayers.randn(2, 3, 4, 5))
    bn.reset_running_stats()
    assert bn.running_var.tolist() == [1, 1, 1] and bn.num_batches_tracked.item() == 0
    assert bn.num_batches_tracked.dtype == cylayers.int64


def test_constructor_and_shape_errors():
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 64)
    with pytest.raises(ValueError, match="num_groups must be a positive integer"):
        nn.GroupNorm(0, 64)
    with pytest.raises(RuntimeError, match="expected input with shape \\[\\*, 64, 32\\]"):
        nn.LayerNorm([64, 32])(cylayers.randn(20, 64, 31))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(cylayers.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match="expected input's size at dim=1 to match num_features"):
        nn.InstanceNorm2d(4, affine=True)(cylayers.randn(2, 3, 5, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm2d(4)(cylayers.randn(2, 3, 5, 5))


def test_empty_batches():
    assert nn.LayerNorm(4)(cylayers.randn(0, 4)).shape == (0, 4)
    assert nn.GroupNorm(2, 4)(cylayers.randn(0, 4, 3)).shape == (0, 4, 3)


def test_nan_and_inf_propagate_like_pytorch():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    x[0, 1, 2, 2] = np.nan
    x[1, 2, 0, 0] = np.inf
    for make in (lambda L: L.nn.BatchNorm2d(3), lambda L: L.nn.GroupNorm(3, 3),
                 lambda L: L.nn.InstanceNorm2d(3), lambda L: L.nn.LayerNorm([4, 4])):
        assert_close(make(cylayers)(cylayers.tensor(x)), make(torch)(torch.from_numpy(x)))


def test_thread_counts_agree():
    x = cylayers.randn(8, 16, 40, 40)
    results = []
    for n in (1, 2):
        cylayers.set_num_threads(n)
        results.append([m(x).detach().numpy().copy() for m in (
            nn.BatchNorm2d(16), nn.GroupNorm(4, 16), nn.InstanceNorm2d(16),
            nn.LayerNorm([16, 40, 40]))])
    cylayers.set_num_threads(2)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.GroupNorm(4, 16), (3, 16, 9, 7)),
    (lambda: nn.GroupNorm(2, 6, affine=False), (5, 6, 11)),
    (lambda: nn.InstanceNorm2d(6, affine=True), (2, 6, 8, 8)),
    (lambda: nn.InstanceNorm1d(3), (1, 3, 50)),
])
def test_fused_and_tiled_group_norm_paths_agree(monkeypatch, make, shape):
    """Both implementations of Group/InstanceNorm (chosen by speed in _norm_kernels), forced
    in turn on the same input: same output, input gradient and parameter gradients."""
    from cylayers.nn.functional import normalization
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 3 + 2
    g = rng.standard_normal(shape)
    params = [rng.standard_normal(p.shape) for p in make().parameters()]
    results = []
    for fused in (True, False):
        monkeypatch.setattr(normalization, "_norm_kernels",
                            lambda layout, fusable=False, f=fused: normalization.FUSED_GROUPS
                            if f and fusable else normalization._TiledKernels(layout))
        m = make().double()
        for p, value in zip(m.parameters(), params):
            p.data = cylayers.tensor(value)
        xt = cylayers.tensor(x, requires_grad=True)
        y = m(xt)
        assert type(y.grad_fn).__name__ == ("GroupNormFn" if fused else "BlockNormFn")
        y.backward(cylayers.tensor(g))
        results.append([y.detach().numpy(), xt.grad.numpy()]
                       + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)



@pytest.mark.parametrize("make, shape, train", [
    (lambda: nn.BatchNorm2d(16), (3, 16, 9, 7), True),
    (lambda: nn.BatchNorm2d(16), (3, 16, 9, 7), False),
    (lambda: nn.BatchNorm1d(6, affine=False), (5, 6, 11), True),
    (lambda: nn.BatchNorm1d(5), (7, 5), True),
    (lambda: nn.BatchNorm3d(4, track_running_stats=False), (2, 4, 3, 5, 2), True),
])
def test_batch_norm_kernel_paths_agree(monkeypatch, make, shape, train):
    """BatchNorm's per-channel, per-column and tiled per-block kernels (chosen by speed in
    _norm_kernels), forced in turn on the same input: output, every gradient and the running
    estimates agree, and they match PyTorch."""
    from cylayers.nn.functional import normalization
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape) * 3 + 1e3  # a large mean: the merged statistics must hold
    g = rng.standard_normal(shape)
    params = [rng.standard_normal(p.shape) for p in make().parameters()]
    results = []
    for kind in (normalization._ChannelKernels, normalization._ColumnKernels,
                 normalization._TiledKernels):
        monkeypatch.setattr(normalization, "_norm_kernels",
                            lambda layout, fusable=False, k=kind: k(layout)
                            if layout.kind == "batch" else normalization._TiledKernels(layout))
        m = make().double().train(train)
        for p, value in zip(m.parameters(), params):
            p.data = cylayers.tensor(value)
        xt = cylayers.tensor(x, requires_grad=True)
        y = m(xt)
        y.backward(cylayers.tensor(g))
        results.append([y.detach().numpy(), xt.grad.numpy()]
                       + [p.grad.numpy() for p in m.parameters()]
                       + [b.numpy().copy() for b in m.buffers() if b.dtype != cylayers.int64])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    tm = {1: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d,
          4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}[len(shape)]
    ref = make()
    t = tm(shape[1], affine=ref.affine, track_running_stats=ref.track_running_stats).double()
    t.train(train)
    with torch.no_grad():
        for p, value in zip(t.parameters(), params):
            p.copy_(torch.from_numpy(value))
    tx = torch.from_numpy(x).requires_grad_()
    ty = t(tx)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(results[0][0], ty.detach().numpy(), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(results[0][1], tx.grad.numpy(), rtol=1e-6, atol=1e-8)

def test_big_blocks_are_split_into_tiles():
    """Fewer blocks than threads: the kernels tile the blocks; results unchanged."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 128, 128)).astype(np.float64)
    xo = cylayers.tensor(x, requires_grad=True)
    xt = torch.from_numpy(x).requires_grad_()
    yo = F.batch_norm(xo, None, None, training=True)
    yt = torch.nn.functional.batch_norm(xt, None, None, training=True)
    assert_close(yo, yt, np.float64)
    yo.sum().backward()
    (yt * 1).sum().backward()
    assert_close(xo.grad, xt.grad, np.float64, atol=1e-9)


# ---------------------------------------------------------------- property-based
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


def _reference(x, axes, eps=1e-5):
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = x64.var(axis=axes, keepdims=True)
    return (x64 - mean) / np.sqrt(var + eps)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["batch", "instance", "group", "layer"]))
def test_property_norms_match_numpy(data, dtype, kind):
    min_dims = 3 if kind == "instance" else 2
    shape = data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=5, min_side=1, max_side=6))
    arr = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-100, 100, width=32)))
    if data.draw(st.booleans()):
        arr = np.swapaxes(np.ascontiguousarray(np.swapaxes(arr, 0, -1)), 0, -1)
    x = cylayers.from_numpy(arr)
    n, c = shape[0], shape[1]
    spatial = int(np.prod(shape[2:]))
    tol = dict(rtol=1e-3, atol=2e-3) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    if kind == "batch":
        if n * spatial == 1:
            with pytest.raises(ValueError, match="more than 1 value per channel"):
                F.batch_norm(x, None, None, training=True)
            return
        out = F.batch_norm(x, None, None, training=True).numpy()
        ref = _reference(arr, tuple(i for i in range(arr.ndim) if i != 1))
    elif kind == "instance":
        if spatial == 1:
            return
        out = F.instance_norm(x).numpy()
        ref = _reference(arr, tuple(range(2, arr.ndim)))
    elif kind == "group":
        divisors = [g for g in range(1, c + 1) if c % g == 0]
        g = data.draw(st.sampled_from(divisors))
        out = F.group_norm(x, g).numpy()
        ref = _reference(arr.reshape(n, g, -1), (2,)).reshape(shape)
    else:
        k = data.draw(st.integers(1, arr.ndim))
        out = F.layer_norm(x, shape[arr.ndim - k:]).numpy()
        ref = _reference(arr, tuple(range(arr.ndim - k, arr.ndim)))
    assert out.shape == arr.shape and out.dtype == dtype
    np.testing.assert_allclose(out, ref, **tol)


def test_tutorial_normalization_samples_match_pytorch():
    """The layer tutorial's LayerNorm / InstanceNorm2d / GroupNorm snippets and
    NormalizationExample."""
    code = '''
class NormalizationExample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.batch_norm = nn.BatchNorm2d(channels)
        self.layer_norm = nn.LayerNorm([channels, 32, 32])
        self.instance_norm = nn.InstanceNorm2d(channels)
        self.group_norm = nn.GroupNorm(8, channels)
    def forward(self, x):
        # 不同归一化方法的效果
        batch_norm_out = self.batch_norm(x)
        layer_norm_out = self.layer_norm(x)
        instance_norm_out = self.instance_norm(x)
        group_norm_out = self.group_norm(x)
        return {
            'batch_norm': batch_norm_out,
            'layer_norm': layer_norm_out,
            'instance_norm': instance_norm_out,
            'group_norm': group_norm_out
        }

# LayerNorm示例
layer_norm = nn.LayerNorm(normalized_shape=[64, 32])
input = torch.randn(20, 64, 32) # batch_size=20
output = layer_norm(input)
ln_output = output
# InstanceNorm2d示例
instance_norm = nn.InstanceNorm2d(num_features=64, affine=True)
input = torch.randn(20, 64, 32, 32) # batch_size=20, channels=64
output = instance_norm(input)
in_output = output
# GroupNorm示例
group_norm = nn.GroupNorm(num_groups=8, num_channels=64)
input = torch.randn(20, 64, 32, 32)
output = group_norm(input)
gn_output = output
'''
    spaces = {}
    for name, lib in (("ours", cylayers), ("theirs", torch)):
        ns = {"torch": lib, "nn": lib.nn}
        exec(code, ns)
        spaces[name] = ns
    for key, shape in (("ln_output", (20, 64, 32)), ("in_output", (20, 64, 32, 32)),
                       ("gn_output", (20, 64, 32, 32))):  # the snippets ran as written
        assert tuple(spaces["ours"][key].shape) == shape == tuple(spaces["theirs"][key].shape)
    rng = np.random.default_rng(0)
    inputs = {"layer_norm": (20, 64, 32), "instance_norm": (20, 64, 32, 32),
              "group_norm": (20, 64, 32, 32)}
    for key, shape in inputs.items():
        ours, theirs = spaces["ours"][key], spaces["theirs"][key]
        _sync(ours, theirs)
        x = rng.standard_normal(shape).astype(np.float32)
        assert_close(ours(cylayers.tensor(x)), theirs(torch.from_numpy(x)))
    ours = spaces["ours"]["NormalizationExample"](16)
    theirs = spaces["theirs"]["NormalizationExample"](16)
    _sync(ours, theirs)
    x = rng.standard_normal((4, 16, 32, 32)).astype(np.float32)
    out_o, out_t = ours(cylayers.tensor(x)), theirs(torch.from_numpy(x))
    assert list(out_o) == list(out_t)
    for k in out_o:
        assert_close(out_o[k], out_t[k])
    assert_close(ours.batch_norm.running_var, theirs.batch_norm.running_var)


@pytest.mark.parametrize("fn,axes", [
    (lambda x: F.batch_norm(x, None, None, training=True), (0, 2, 3)),
    (lambda x: F.instance_norm(x), (2, 3)),
    (lambda x: F.group_norm(x, 1), (1, 2, 3)),
    (lambda x: F.layer_norm(x, [3, 16, 16]), (1, 2, 3)),
], ids=["batch", "instance", "group", "layer"])
def test_float32_large_mean_is_as_accurate_as_float64(fn, axes):
    """x = 1e4 + N(0, 1) in float32: outputs and input gradients within 1e-4 of the float64
    result (a naive float32 x - mean would be off by ~1e-3)."""
    rng = np.random.default_rng(0)
    x32 = (1e4 + rng.standard_normal((4, 3, 16, 16))).astype(np.float32)
    g = rng.standard_normal(x32.shape)
    outs = []
    for dtype in (np.float32, np.float64):
        x = cylayers.tensor(x32.astype(dtype), requires_grad=True)
        y = fn(x)
        y.backward(cylayers.tensor(g.astype(dtype)))
        outs.append((y.detach().numpy().astype(np.float64), x.grad.numpy().astype(np.float64)))
    np.testing.assert_allclose(outs[0][0], outs[1][0], atol=1e-4)
    np.testing.assert_allclose(outs[0][1], outs[1][1], atol=1e-4)


def test_layer_norm_kernels_refuse_sizes_that_do_not_fit():
    from cylayers._kernels import normalization as K
    x, no_param = np.zeros(3 * 8, np.float32), np.zeros(0, np.float32)
    stats = np.zeros(3)
    with pytest.raises(ValueError, match="layer_norm_forward: array sizes"):
        K.layer_norm_forward(x, no_param, no_param, np.zeros(23, np.float32), stats, stats, 8,
                             1e-5, 1)
    with pytest.raises(ValueError, match="layer_norm_forward: array sizes"):
        K.layer_norm_forward(x, np.zeros(7, np.float32), no_param, x.copy(), stats, stats, 8,
                             1e-5, 1)
    rows = np.zeros((2, 8))
    K.layer_norm_backward(x, x, no_param, stats, stats, x.copy(), rows, rows.copy(), 8, 2)
    for parts, threads in ((np.zeros((1, 8)), 2), (np.zeros((2, 7)), 2)):
        with pytest.raises(ValueError, match="layer_norm_backward: array sizes"):
            K.layer_norm_backward(x, x, no_param, stats, stats, x.copy(), parts, rows, 8,
                                  threads)


def test_per_thread_scratch_rows_never_share_a_cache_line():
    """Each thread's row ends 64 bytes or more before the next begins, whatever the array's
    alignment (rows sharing a line made LayerNorm's backward slower on 2 threads than on 1)."""
    from cylayers._kernel_call import thread_rows
    for dtype, length in ((np.float64, 5), (np.float32, 7), (np.float64, 256)):
        rows = thread_rows(3, length, dtype)
        assert rows.shape[0] == 3 and rows.flags.c_contiguous
        assert rows.strides[0] - length * rows.itemsize >= 64
    assert not thread_rows(2, 4, zero=True).any()


def test_channel_kernels_refuse_mismatched_sizes():
    from cylayers._kernels import normalization as K
    x, c3, c4 = np.zeros(2 * 3 * 5), np.zeros(3), np.zeros(4)
    with pytest.raises(ValueError, match="channel_stats: array sizes"):
        K.channel_stats(x, c4, c4, 2, 3, 5, 1)
    with pytest.raises(ValueError, match="channel_affine: array sizes"):
        K.channel_affine(x, c3, c3, c3, x[:-1], 2, 3, 5, 1)
    with pytest.raises(ValueError, match="channel_grad_sums: array sizes"):
        K.channel_grad_sums(x, x[:-1], c3, c3, c3, 2, 3, 5, 1)
    with pytest.raises(ValueError, match="channel_affine_grad: array sizes"):
        K.channel_affine_grad(x, x, c3, c3, c4, c3, x, 2, 3, 5, 1)
    k15 = np.zeros(15)
    with pytest.raises(ValueError, match="column_stats: array sizes"):
        K.column_stats(x, k15, c3, 2, 15, 1)
    with pytest.raises(ValueError, match="column_affine: array sizes"):
        K.column_affine(x, k15, k15, c3, x, 2, 15, 1)
    with pytest.raises(ValueError, match="column_grad_sums: array sizes"):
        K.column_grad_sums(x[:-1], x, k15, k15, k15, 2, 15, 1)
    with pytest.raises(ValueError, match="column_affine_grad: array sizes"):
        K.column_affine_grad(x, x, k15, k15, k15, k15, x[:-1], 2, 15, 1)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_moments_merge_equal_and_unequal_parts_as_one_pass_over_the_values(offset):
    """Chan et al.'s merge, the one every norm's statistics go through: equal parts along
    axes and parts of different counts in order give the count, mean and M2 of all the values
    (a large mean keeps its variance)."""
    from cylayers.nn.functional.normalization import Moments
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 6)) + offset  # 3 groups of 4 parts of 6 values

    def exact(v):
        return v.size, v.mean(), ((v - v.mean()) ** 2).sum()
    parts = Moments(6, x.mean(axis=2), ((x - x.mean(axis=2, keepdims=True)) ** 2).sum(axis=2))
    merged = parts.merged((1,))
    for g in range(3):
        count, mean, m2 = exact(x[g])
        assert merged.count == count
        np.testing.assert_allclose(merged.mean[g, 0], mean, rtol=1e-15)
        np.testing.assert_allclose(merged.m2[g, 0], m2, rtol=1e-9)
    np.testing.assert_allclose(merged.variance()[:, 0], x.reshape(3, -1).var(axis=1),
                               rtol=1e-9)
    np.testing.assert_allclose(merged.unbiased_variance()[:, 0],
                               x.reshape(3, -1).var(axis=1, ddof=1), rtol=1e-9)
    cuts = np.split(x.reshape(-1), [5, 5, 30])  # one empty part
    whole = Moments.in_order(np.array([c.size for c in cuts], dtype=float),
                             np.array([c.mean() if c.size else 0.0 for c in cuts]),
                             np.array([((c - c.mean()) ** 2).sum() if c.size else 0.0
                                       for c in cuts]))
    count, mean, m2 = exact(x)
    assert whole.count == count
    np.testing.assert_allclose(whole.mean, mean, rtol=1e-15)
    np.testing.assert_allclose(whole.m2, m2, rtol=1e-9)
    assert np.isnan(Moments(0, np.zeros(2), np.zeros(2)).variance()).all()
    assert np.isnan(Moments(1, np.zeros(2), np.zeros(2)).unbiased_variance()).all()
